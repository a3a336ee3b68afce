"""`mentatctl audit verify` on the log real applies wrote: intact, then edited, then reordered."""

from __future__ import annotations

import json

from tests.controller.kit import Kit, configmap, namespace


def test_audit_verify_finds_tampering(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a")])
    for _ in range(3):
        assert kit.apply(tree)[0] == 0
    log = kit.tmp / "audit.jsonl"
    ok = kit.cli("audit", "verify", str(log), "-o", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["entries"] == 3
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], lines[1].replace('"succeeded"', '"failed"'), lines[2]]) + "\n")
    edited = kit.cli("audit", "verify", str(log))
    assert edited.returncode == 1 and "audit log edited" in edited.stderr
    log.write_text("\n".join([lines[0], lines[2], lines[1]]) + "\n")
    reordered = kit.cli("audit", "verify", str(log), "-o", "json")
    assert reordered.returncode == 1
    assert {p["kind"] for p in json.loads(reordered.stdout)["problems"]} == {"inserted-or-reordered"}
