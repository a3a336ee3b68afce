"""A rendered Kubernetes object names its kind and name from the object itself."""

from __future__ import annotations

from compiler.model import K8sObject

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "n"}}


def test_kind_and_name_come_from_the_object() -> None:
    o = K8sObject("staging/eu-west-1", SERVICE, ("flows/web.yaml",), ("flows/web.yaml", 3, 1))
    assert (o.kind, o.name) == ("Service", "web")
    assert (o.dir, o.sources, o.origin, o.group) == (
        "staging/eu-west-1", ("flows/web.yaml",), ("flows/web.yaml", 3, 1), "")

