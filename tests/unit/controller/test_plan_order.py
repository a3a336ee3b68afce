"""Apply order: CRDs, Namespaces, RBAC/ServiceAccounts/ConfigMaps, then workloads, custom
resources last."""

from __future__ import annotations

from compiler.controller.plan import ordered


def _obj(api: str, kind: str, name: str = "x") -> dict[str, object]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name}}


def test_definitions_first_workloads_after_what_they_read() -> None:
    objs = [
        _obj("mentatlab.io/v1", "Flow"),
        _obj("apps/v1", "Deployment", "b"),
        _obj("apps/v1", "Deployment", "a"),
        _obj("v1", "Service"),
        _obj("v1", "ConfigMap"),
        _obj("rbac.authorization.k8s.io/v1", "RoleBinding"),
        _obj("v1", "ServiceAccount"),
        _obj("v1", "Namespace"),
        _obj("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        _obj("batch/v1", "CronJob"),
    ]
    kinds = [(o["kind"], o["metadata"]["name"]) for o in ordered(objs)]  # type: ignore[index]
    assert kinds == [
        ("CustomResourceDefinition", "x"),
        ("Namespace", "x"),
        ("ConfigMap", "x"),
        ("ServiceAccount", "x"),
        ("RoleBinding", "x"),
        ("Service", "x"),
        ("Deployment", "a"),
        ("Deployment", "b"),
        ("CronJob", "x"),
        ("Flow", "x"),
    ]


def test_a_kind_named_like_a_builtin_in_another_group_is_custom() -> None:
    objs = [_obj("example.com/v1", "Namespace"), _obj("v1", "Namespace")]
    assert [o["apiVersion"] for o in ordered(objs)] == ["v1", "example.com/v1"]
