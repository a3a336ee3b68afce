"""The prune budget refuses the whole reconcile (nothing changes) when it would delete too
much, or a Namespace, until --allow-prune approves it; an empty tree prunes nothing."""

from __future__ import annotations

from tests.controller.kit import Kit, configmap, namespace


def test_more_than_the_budget_is_refused_until_approved(kit: Kit) -> None:
    ns = kit.ns
    assert kit.apply(kit.tree([namespace(ns), *(configmap(ns, n) for n in "abcdef")]))[0] == 0
    smaller = kit.tree([namespace(ns), configmap(ns, "a"), configmap(ns, "z")])
    code, out, _ = kit.apply(smaller)
    assert code == 1 and out["result"] == "refused"
    assert "would prune 5 of 7 inventory objects, more than 30% (2); approve with --allow-prune 72%" \
        in out["problems"]
    assert kit.get("cm", "b") is not None and kit.get("cm", "z") is None  # nothing changed at all
    code, out, err = kit.apply(smaller, "--allow-prune", "72%")
    assert code == 0, err
    assert kit.get("cm", "b") is None and kit.get("cm", "z") is not None


def test_a_namespace_is_pruned_only_when_approved(kit: Kit) -> None:
    ns, spare = kit.ns, kit.ns + "-spare"
    assert kit.apply(kit.tree([namespace(ns), namespace(spare), *(configmap(ns, n) for n in "abcd")]))[0] == 0
    without = kit.tree([namespace(ns), *(configmap(ns, n) for n in "abcd")])
    code, out, _ = kit.apply(without)
    assert code == 1
    assert any(f"Namespace {spare}; approve with --allow-prune Namespace" in p for p in out["problems"])
    assert kit.get("ns", spare) is not None
    code, out, err = kit.apply(without, "--allow-prune", "Namespace")
    assert code == 0, err
    assert out["pruned"] == [{"apiVersion": "v1", "kind": "Namespace", "name": spare}]


def test_an_empty_tree_prunes_nothing(kit: Kit) -> None:
    ns = kit.ns
    assert kit.apply(kit.tree([namespace(ns), configmap(ns, "a")]))[0] == 0
    code, out, _ = kit.apply(kit.tree([]), "--allow-prune", "all")
    assert code == 1 and out["result"] == "refused"
    assert kit.get("cm", "a") is not None
