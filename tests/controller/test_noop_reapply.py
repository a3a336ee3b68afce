"""A re-apply of an unchanged tree changes nothing (no write at all); a field someone changed
live is found, reported as the other manager's conflict, and restored with --force-conflicts."""

from __future__ import annotations

import json

from tests.controller.kit import Kit, configmap, deployment, namespace


def test_noop_reapply_writes_nothing(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a"), deployment(kit.ns, "web")])
    assert kit.apply(tree)[0] == 0
    before = {n: kit.get(k, n)["metadata"]["resourceVersion"] for k, n in (("cm", "a"), ("deploy", "web"))}
    code, out, err = kit.apply(tree)
    assert code == 0, err
    assert out["plan"]["counts"] == {"create": 0, "update": 0, "delete": 0, "noop": 3}
    assert out["plan"]["changes"] == []
    after = {n: kit.get(k, n)["metadata"]["resourceVersion"] for k, n in (("cm", "a"), ("deploy", "web"))}
    assert after == before


def test_a_field_changed_live_is_found_and_restored(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a", {"k": "v"})])
    assert kit.apply(tree)[0] == 0
    patch = json.dumps({"data": {"k": "x"}})
    kit.kubectl("patch", "configmap", "a", "-n", kit.ns, "--type", "merge", "-p", patch)
    code, out, _ = kit.apply(tree)
    assert code == 1
    [change] = out["plan"]["changes"]
    assert change["op"] == "update" and change["fields"] == [{"path": "data.k", "before": "x", "after": "v"}]
    assert any('.data.k' in p and "kubectl-patch" in p for p in out["problems"])
    assert kit.get("cm", "a")["data"] == {"k": "x"}
    code, out, err = kit.apply(tree, "--force-conflicts")
    assert code == 0, err
    assert kit.get("cm", "a")["data"] == {"k": "v"}
