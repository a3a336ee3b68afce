"""An unsigned or tampered tree is refused before the cluster is touched; --allow-unsigned
applies it and the attestation says so."""

from __future__ import annotations

import json

from tests.controller.kit import Kit, configmap, file_name, namespace


def test_unsigned_is_refused(kit: Kit) -> None:
    code, out, _ = kit.apply(kit.tree([namespace(kit.ns), configmap(kit.ns, "a")], sign=False))
    assert code == 1 and out["result"] == "refused"
    assert "unsigned or does not verify" in out["reason"]
    assert any("M802" in p and "not signed" in p for p in out["problems"])
    assert kit.get("ns", kit.ns) is None


def test_tampered_is_refused(kit: Kit) -> None:
    cm = configmap(kit.ns, "a", {"k": "v"})
    tree = kit.tree([namespace(kit.ns), cm])
    path = tree / file_name(cm)
    path.write_text(path.read_text().replace("k: v", "k: evil"))
    code, out, _ = kit.apply(tree)
    assert code == 1 and out["result"] == "refused"
    assert any("M805" in p and "configmap-a.yaml" in p for p in out["problems"])
    assert kit.get("ns", kit.ns) is None


def test_allow_unsigned_applies_and_records_it(kit: Kit) -> None:
    code, out, err = kit.apply(kit.tree([namespace(kit.ns), configmap(kit.ns, "a")], sign=False),
                               "--allow-unsigned")
    assert code == 0, err
    assert out["source"]["verified"] is False and out["source"]["allowedUnsigned"] is True
    verified = kit.cli("verify-attestation", str(kit.tmp / "att.json"), "--trust", str(kit.root),
                       "-o", "json")
    assert verified.returncode == 0
    statement_source = json.loads((kit.tmp / "audit.jsonl").read_text().splitlines()[-1])["event"]["source"]
    assert statement_source["method"] == "unsigned"
