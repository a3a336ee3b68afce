"""The order in which objects can be applied to an empty cluster, in one place.

`kubectl apply -f -` creates a stream's objects one after another: a namespaced object before
its Namespace, or a custom resource before its CustomResourceDefinition, fails. So Namespaces
come first, then CRDs, then other cluster-scoped objects (admission policies, so they judge
what follows), then namespaced objects, then custom resources of other APIs; within a rank,
the output tree's path order (deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable

from compiler.model import K8sObject
from compiler.render.layout import object_path

__all__ = ["apply_order", "rank"]

_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1}
_CLUSTER_SCOPED = frozenset({"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                             "ClusterRole", "ClusterRoleBinding", "PriorityClass",
                             "RuntimeClass", "StorageClass"})
_BUILTIN_GROUPS = ("v1", "apps/", "batch/", "networking.k8s.io/", "rbac.authorization.k8s.io/",
                   "policy/", "autoscaling/", "admissionregistration.k8s.io/",
                   "apiextensions.k8s.io/", "node.k8s.io/", "scheduling.k8s.io/",
                   "storage.k8s.io/")


def rank(kind: str, api_version: str) -> int:
    if kind in _FIRST:
        return _FIRST[kind]
    if kind in _CLUSTER_SCOPED:
        return 2
    builtin = api_version == "v1" or api_version.startswith(_BUILTIN_GROUPS)
    return 3 if builtin else 4  # custom resources once their definitions exist


def apply_order(objects: Iterable[K8sObject]) -> list[K8sObject]:
    return sorted(objects, key=lambda o: (rank(o.kind, o.obj.get("apiVersion", "")),
                                          object_path(o)))
