"""First apply: every object created with server-side apply (manager mentatctl), labelled
with the inventory, recorded in the inventory ConfigMap, attested and audited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.controller.kit import Kit, configmap, deployment, namespace

pytestmark = pytest.mark.cluster


def test_first_apply_creates_records_attests_and_audits(cluster: Any, kit: Kit) -> None:
    ns = kit.ns
    tree = kit.tree([namespace(ns), configmap(ns, "settings"), deployment(ns, "web")])
    code, out, err = kit.apply(tree)
    assert code == 0, err
    assert out["result"] == "succeeded"
    assert out["plan"]["counts"] == {"create": 3, "update": 0, "delete": 0, "noop": 0}
    assert [s["name"] for s in out["steps"]] == ["verify", "plan", "apply", "health", "prune", "attest",
                                                 "audit"]
    inventory = out["inventory"]

    got = json.loads(cluster.kubectl("get", "deployment", "web", "-n", ns, "-o", "json",
                                     "--show-managed-fields").stdout)
    assert got["metadata"]["labels"]["mentatlab.io/inventory"] == inventory
    managers = {m["manager"] for m in got["metadata"]["managedFields"] if m["operation"] == "Apply"}
    assert managers == {"mentatctl"}
    assert got["status"].get("availableReplicas") == 1  # health waited for the rollout

    record = json.loads(cluster.kubectl("get", "configmap", f"mentat-inventory-{inventory}", "-n",
                                        "mentat-system", "-o", "json").stdout)
    objects = json.loads(record["data"]["inventory.json"])["objects"]
    assert sorted(o[2] for o in objects) == ["ConfigMap", "Deployment", "Namespace"]

    verified = kit.cli("verify-attestation", str(kit.tmp / "att.json"), "--trust", str(kit.root),
                       "--rendered", str(tree), "-o", "json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["objects"] == 3
    audit = kit.cli("audit", "verify", str(kit.tmp / "audit.jsonl"))
    assert audit.returncode == 0 and "1 entries" in audit.stdout
