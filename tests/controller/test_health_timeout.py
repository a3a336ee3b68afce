"""Health: a Deployment whose pod is never scheduled times out, the object and the reason
are named, and nothing is pruned after a failed health check."""

from __future__ import annotations

from tests.controller.kit import Kit, configmap, deployment, namespace


def test_unhealthy_deployment_times_out_and_blocks_the_prune(kit: Kit) -> None:
    ns = kit.ns
    assert kit.apply(kit.tree([namespace(ns), configmap(ns, "old"), configmap(ns, "keep")]))[0] == 0
    stuck = deployment(ns, "stuck", node_selector={"mentatlab.io/no-such-node": "true"})
    code, out, _ = kit.apply(kit.tree([namespace(ns), configmap(ns, "keep"), stuck]), "--timeout", "10s")
    assert code == 1 and out["result"] == "failed"
    assert out["reason"] == "1 object(s) still unhealthy after 10s; nothing was pruned"
    [why] = out["unhealthy"]  # the pod is Pending for ever: no node has the label
    assert why.startswith(f"Deployment.apps {ns}/stuck: 0/1 replicas available"), why
    assert [s["name"] for s in out["steps"]][-3:] == ["health", "attest", "audit"]
    assert kit.get("cm", "old") is not None
