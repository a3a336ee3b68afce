"""An update: only the changed objects are written, with a field-level diff in the plan."""

from __future__ import annotations

from tests.controller.kit import Kit, configmap, deployment, namespace


def test_changed_objects_are_updated_with_a_field_diff(kit: Kit) -> None:
    ns = kit.ns
    assert kit.apply(kit.tree([namespace(ns), configmap(ns, "a", {"k": "1"}), deployment(ns, "web")]))[0] == 0
    untouched = kit.get("deploy", "web")["metadata"]["resourceVersion"]
    code, out, err = kit.apply(kit.tree([namespace(ns), configmap(ns, "a", {"k": "2", "new": "yes"}),
                                         deployment(ns, "web")]))
    assert code == 0, err
    assert out["plan"]["counts"] == {"create": 0, "update": 1, "delete": 0, "noop": 2}
    [change] = out["plan"]["changes"]
    assert (change["kind"], change["name"]) == ("ConfigMap", "a")
    assert {f["path"]: (f["before"], f["after"]) for f in change["fields"]} == {
        "data.k": ("1", "2"), "data.new": (None, "yes")}
    assert kit.get("cm", "a")["data"] == {"k": "2", "new": "yes"}
    assert kit.get("deploy", "web")["metadata"]["resourceVersion"] == untouched
