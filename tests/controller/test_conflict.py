"""A field another field manager owns is a conflict, reported with the field and the manager;
--force-conflicts takes it over."""

from __future__ import annotations

import json

from tests.controller.kit import Kit, deployment, namespace


def test_conflict_with_another_manager_is_reported_then_forced(kit: Kit) -> None:
    ns = kit.ns
    tree = kit.tree([namespace(ns), deployment(ns, "web", replicas=1)])
    assert kit.apply(tree)[0] == 0
    theirs = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
              "spec": {"replicas": 2}}
    kit.kubectl("apply", "--server-side", "--field-manager", "autoscaler", "--force-conflicts", "-f", "-",
                input=json.dumps(theirs))
    code, out, _ = kit.apply(tree)
    assert code == 1 and out["result"] == "failed"
    assert "conflicts with other field managers" in out["reason"]
    assert any(".spec.replicas" in p and '"autoscaler"' in p for p in out["problems"])
    assert kit.get("deploy", "web")["spec"]["replicas"] == 2
    code, out, err = kit.apply(tree, "--force-conflicts")
    assert code == 0, err
    assert kit.get("deploy", "web")["spec"]["replicas"] == 1
