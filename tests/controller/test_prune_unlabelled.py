"""Objects without our inventory label are never pruned, and neither is a Namespace that
holds objects we do not own; objects that were never ours are not touched."""

from __future__ import annotations

from tests.controller.kit import Kit, configmap, namespace


def test_unlabelled_and_foreign_objects_are_untouched(kit: Kit) -> None:
    ns, other = kit.ns, kit.ns + "-other"
    assert kit.apply(kit.tree([namespace(ns), namespace(other), *(configmap(ns, n) for n in "abcd")]))[0] == 0
    kit.kubectl("create", "configmap", "theirs", "-n", ns, "--from-literal=k=v")
    kit.kubectl("create", "configmap", "theirs", "-n", other, "--from-literal=k=v")
    kit.kubectl("label", "configmap", "b", "-n", ns, "mentatlab.io/inventory-")  # someone took it over
    code, out, err = kit.apply(kit.tree([namespace(ns), *(configmap(ns, n) for n in "acd")]),
                               "--allow-prune", "Namespace,50%")
    assert code == 0, err
    kept = {(k["kind"], k["name"]): k["why"] for k in out["kept"]}
    assert "has no mentatlab.io/inventory=" in kept[("ConfigMap", "b")]
    assert kept[("Namespace", other)] == "it holds objects we do not own: ConfigMap theirs"
    assert out["pruned"] == []
    assert kit.get("cm", "b") is not None
    assert kit.get("cm", "theirs") is not None and kit.get("cm", "theirs", other) is not None
    assert kit.get("ns", other) is not None
