"""A changed replica count: exactly the Deployments it touches change (and the graph each leaf
mounts), with a one-line diff of `replicas`, and the cost delta of the flow and in total is
the price of the replicas."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.unit.diff.diffkit import WORKSPACE, GitWorkspace, changes


def test_replica_change_is_a_one_line_diff_with_its_cost(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.write("mentat.yaml", WORKSPACE + "  pricing: {cpuHour: 0.04, memoryGiBHour: 0.005}\n")
    base = ws.commit("pricing")
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 3}")
    ws.commit("scale sum in prod")
    doc = ws.json(base)
    # the Deployments and the graph each leaf mounts (it records replicas)
    assert changes(doc, "changed") == [
        ("prod/eu-west-1", "ConfigMap", "digest-graph"),
        ("prod/eu-west-1", "Deployment", "digest-sum"),
        ("prod/us-east-1", "ConfigMap", "digest-graph"),
        ("prod/us-east-1", "Deployment", "digest-sum")]
    diff = doc["objects"][1]["diff"]
    assert [line for line in diff.splitlines() if line[:1] in "+-"
            and not line.startswith(("---", "+++"))] == ["-  replicas: 2", "+  replicas: 3"]
    # one more summarizer replica (0.5 cpu, 256Mi) all month in two regions
    one = (Decimal("0.5") * Decimal("0.04") + Decimal("0.25") * Decimal("0.005")) * 730
    (flow,) = doc["cost"]["flows"]
    assert flow["flow"] == "digest"
    assert Decimal(flow["delta"]) == 2 * one
    assert Decimal(doc["cost"]["total"]["delta"]) == 2 * one
