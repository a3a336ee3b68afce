"""The change set: create, update (with a field diff), noop; Secret data never shown."""

from __future__ import annotations

import copy
from typing import Any

from compiler.controller.plan import (
    DIGEST_ANNOTATION,
    MASK,
    Change,
    FieldChange,
    Op,
    Plan,
    decide,
    object_digest,
    render_plan,
)

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "app", "labels": {"a": "1"}},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [
        {"name": "main", "image": "img@sha256:1", "env": [{"name": "X", "value": "1"}]},
    ]}}},
}


def _live(desired: dict[str, Any]) -> dict[str, Any]:
    """What the server returns: our fields, its defaults, its metadata, status."""
    live = copy.deepcopy(desired)
    live["metadata"].update(uid="u-1", resourceVersion="7", generation=3, managedFields=[{}])
    live["metadata"].setdefault("annotations", {})[DIGEST_ANNOTATION] = object_digest(desired)
    live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "3"
    if "spec" in live:
        live["spec"]["strategy"] = {"type": "RollingUpdate"}
        live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
        live["status"] = {"replicas": 2}
    else:
        live["type"] = "Opaque"
    return live


def test_absent_is_create() -> None:
    assert decide(DESIRED, None).op is Op.CREATE


def test_unchanged_with_server_defaults_is_noop() -> None:
    assert decide(DESIRED, _live(DESIRED)).op is Op.NOOP


def test_a_field_changed_live_is_an_update_naming_it() -> None:
    live = _live(DESIRED)
    live["spec"]["replicas"] = 5
    live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "2"
    change = decide(DESIRED, live)
    assert change.op is Op.UPDATE
    assert change.fields == (
        FieldChange("spec.replicas", 5, 2),
        FieldChange("spec.template.spec.containers.main.env.X.value", "2", "1"),
    )


def test_a_new_desired_field_is_an_update() -> None:
    live = _live(DESIRED)
    want = copy.deepcopy(DESIRED)
    want["metadata"]["labels"]["b"] = "2"
    change = decide(want, live)
    assert change.op is Op.UPDATE
    assert change.fields == (FieldChange("metadata.labels.b", None, "2"),)


def test_a_removed_desired_field_is_found_by_the_digest() -> None:
    live = _live(DESIRED)
    want = copy.deepcopy(DESIRED)
    del want["metadata"]["labels"]
    change = decide(want, live)
    assert change.op is Op.UPDATE
    assert change.reason == "applied with a different configuration"


def test_the_server_dry_run_decides_when_given() -> None:
    want = copy.deepcopy(DESIRED)
    want["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1000m"}}
    live = _live(want)
    live["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    dry = copy.deepcopy(live)
    dry["metadata"]["resourceVersion"] = "8"
    assert decide(want, live).op is Op.UPDATE
    assert decide(want, live, dry).op is Op.NOOP
    dry["spec"]["replicas"] = 4
    assert decide(want, live, dry).fields == (FieldChange("spec.replicas", 2, 4),)


SECRET: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "app"},
                          "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}}


def test_secret_values_are_masked_in_the_diff_and_its_rendering() -> None:
    live = _live(SECRET)
    live["data"]["password"] = "b2xk"
    del live["data"]["user"]
    change = decide(SECRET, live)
    assert change.op is Op.UPDATE
    assert change.fields == (FieldChange("data.password", MASK, MASK), FieldChange("data.user", None, MASK))
    text = render_plan(Plan([change]))
    assert "aHVudGVy" not in text and "b2xk" not in text and "YWRtaW4" not in text
    live2 = _live(SECRET)
    del live2["data"]
    fields = decide(SECRET, live2).fields
    assert fields == (FieldChange("data", None, MASK),)


def test_render_plan_lists_changes_and_counts() -> None:
    live = _live(DESIRED)
    live["spec"]["replicas"] = 5
    plan = Plan([decide(DESIRED, live), decide(SECRET, None), decide(DESIRED, _live(DESIRED)),
                 Change(Op.DELETE, decide(SECRET, None).ref)])
    assert plan.counts() == {"create": 1, "update": 1, "delete": 1, "noop": 1}
    assert render_plan(plan).splitlines() == [
        "update Deployment.apps app/web",
        "         ~ spec.replicas: 5 -> 2",
        "create Secret app/s",
        "delete Secret app/s",
        "plan: 1 create, 1 update, 1 delete, 1 noop",
    ]
    assert plan.to_dict()["counts"]["noop"] == 1
    assert [c["op"] for c in plan.to_dict()["changes"]] == ["update", "create", "delete"]


def test_values_the_server_omits_are_not_drift() -> None:
    want = copy.deepcopy(DESIRED)
    want["spec"]["template"]["spec"]["containers"][0]["args"] = []
    want["spec"]["template"]["spec"]["hostNetwork"] = False
    want["spec"]["template"]["spec"]["priorityClassName"] = ""
    live = _live(DESIRED)
    live["metadata"]["annotations"][DIGEST_ANNOTATION] = object_digest(want)
    assert decide(want, live).op is Op.NOOP


def _managed(live: dict[str, Any], *entries: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    live["metadata"]["managedFields"] = [
        {"manager": m, "operation": op, "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": f}
        for m, op, f in entries]
    return live


def test_an_update_names_the_other_manager_that_changed_the_field() -> None:
    live = _live(DESIRED)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "img@sha256:2"
    live["metadata"]["labels"]["a"] = "2"
    container = {'k:{"name":"main"}': {"f:image": {}}}
    _managed(live,
             ("mentatctl", "Apply", {"f:spec": {"f:replicas": {}}}),
             ("kubectl-edit", "Update", {"f:spec": {"f:template": {"f:spec": {"f:containers": container}}}}),
             ("gitops-b", "Apply", {"f:metadata": {"f:labels": {"f:a": {}}}}),
             ("kube-controller-manager", "Update", {"f:status": {"f:replicas": {}}}))
    change = decide(DESIRED, live)
    assert change.op is Op.UPDATE
    assert [(o.path, o.manager, o.operation, o.drift) for o in change.owners] == [
        ("metadata.labels.a", "gitops-b", "Apply", False),
        ("spec.template.spec.containers.main.image", "kubectl-edit", "Update", True),
    ]
    text = render_plan(Plan([change]))
    assert ("containers.main.image: img@sha256:2 -> img@sha256:1  [changed live by kubectl-edit: taken back]"
            in text)
    assert "labels.a: 2 -> 1  [conflict: applied by gitops-b (--force-conflicts takes it over)]" in text
    assert change.to_dict()["owners"][0] == {"path": "metadata.labels.a", "manager": "gitops-b",
                                             "operation": "Apply"}


def test_owners_of_sets_and_positional_list_items() -> None:
    from compiler.controller.plan import owners_of

    live = {"metadata": {"managedFields": [
        {"manager": "x", "operation": "Update", "fieldsV1": {"f:spec": {"f:args": {"v:\"-v\"": {}},
                                                                       "f:ports": {"i:1": {}}}}}]},
            "spec": {"args": ["-q", "-v"], "ports": [80, 443]}}
    got = owners_of(live, ["spec.args[1]", "spec.ports[1]", "spec.ports[0]"], "mentatctl")
    assert [(o.path, o.manager) for o in got] == [("spec.args[1]", "x"), ("spec.ports[1]", "x")]
