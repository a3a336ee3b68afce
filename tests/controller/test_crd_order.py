"""A CRD and a custom resource of it in one tree: the CRD is applied first and waited for
until Established, the new kind is discovered, then the resource is applied."""

from __future__ import annotations

from typing import Any

from tests.controller.kit import Kit, namespace


def _crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                           "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def test_crd_then_its_resources_in_one_reconcile(kit: Kit) -> None:
    group = f"{kit.ns}.example.com"
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": kit.ns},
              "spec": {"size": 3}}
    try:
        code, out, err = kit.apply(kit.tree([namespace(kit.ns), _crd(group), widget]))
        assert code == 0, err
        assert out["plan"]["counts"]["create"] == 3
        got = kit.get(f"widgets.{group}", "w")
        assert got is not None and got["spec"] == {"size": 3}
        assert kit.get("configmap", f"mentat-attestation-{out['inventory']}", "mentat-system") is not None
        code, out, _ = kit.apply(kit.tree([namespace(kit.ns), _crd(group), widget]))
        assert code == 0 and out["plan"]["counts"]["noop"] == 3
    finally:
        kit.kubectl("delete", "crd", f"widgets.{group}", "--ignore-not-found", "--wait=false")
