"""A CRD and a custom resource of it in one tree: the CRD is applied first and waited for
until Established, the new kind is discovered, then the resource is applied."""

from __future__ import annotations

from tests.controller.kit import Kit, crd, namespace


def test_crd_then_its_resources_in_one_reconcile(kit: Kit) -> None:
    group = f"{kit.ns}.example.com"
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": kit.ns},
              "spec": {"size": 3}}
    try:
        code, out, err = kit.apply(kit.tree([namespace(kit.ns), crd(group, "Widget"), widget]))
        assert code == 0, err
        assert out["plan"]["counts"]["create"] == 3
        got = kit.get(f"widgets.{group}", "w")
        assert got is not None and got["spec"] == {"size": 3}
        assert kit.get("configmap", f"mentat-attestation-{out['inventory']}", "mentat-system") is not None
        code, out, _ = kit.apply(kit.tree([namespace(kit.ns), crd(group, "Widget"), widget]))
        assert code == 0 and out["plan"]["counts"]["noop"] == 3
    finally:
        kit.kubectl("delete", "crd", f"widgets.{group}", "--ignore-not-found", "--wait=false")
