"""What the tree no longer renders is pruned, and the inventory record shrinks with it."""

from __future__ import annotations

from tests.controller.kit import Kit, configmap, namespace


def test_removed_object_is_pruned(kit: Kit) -> None:
    ns = kit.ns
    code, out, _ = kit.apply(kit.tree([namespace(ns), *(configmap(ns, n) for n in "abcd")]))
    assert code == 0
    inventory = out["inventory"]
    assert kit.inventory(inventory) == ["ConfigMap/a", "ConfigMap/b", "ConfigMap/c", "ConfigMap/d",
                                        f"Namespace/{ns}"]
    code, out, err = kit.apply(kit.tree([namespace(ns), *(configmap(ns, n) for n in "abc")]))
    assert code == 0, err
    assert out["plan"]["counts"]["delete"] == 1
    assert out["pruned"] == [{"apiVersion": "v1", "kind": "ConfigMap", "name": "d", "namespace": ns}]
    assert kit.get("cm", "d") is None and kit.get("cm", "c") is not None
    assert "ConfigMap/d" not in kit.inventory(inventory)
