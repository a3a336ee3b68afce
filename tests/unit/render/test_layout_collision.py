"""Two rendered objects that would share a file are an error, never a silent overwrite (two
Roles of one name in different namespaces of a leaf once lost one of them)."""

from __future__ import annotations

import pytest

from compiler.model import K8sObject
from compiler.render.layout import layout


def _role(namespace: str) -> K8sObject:
    return K8sObject("prod/us-east-1", {"apiVersion": "rbac.authorization.k8s.io/v1",
                                        "kind": "Role",
                                        "metadata": {"name": "reader", "namespace": namespace}},
                     ("flows/x.yaml",))


def test_objects_sharing_a_path_are_refused() -> None:
    with pytest.raises(ValueError, match=r"prod/us-east-1/role-reader\.yaml"):
        layout("ws", [_role("mentat-system"), _role("mentat-prod")], [], {})


def test_distinct_objects_are_all_written() -> None:
    other = K8sObject("prod/eu-west-1", _role("a").obj, ("flows/x.yaml",))
    tree = layout("ws", [_role("a"), other], [], {})
    assert {"prod/us-east-1/role-reader.yaml", "prod/eu-west-1/role-reader.yaml"} <= set(tree.files)
