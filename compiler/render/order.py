"""The order in which objects can be applied to an empty cluster, in one place.

`kubectl apply -f -` creates a stream's objects one after another: a namespaced object before
its Namespace, or a custom resource before its CustomResourceDefinition, fails. So Namespaces
come first, then CRDs, then other cluster-scoped objects (admission policies, so they judge
what follows), then namespaced objects, then custom resources of other APIs; within a rank,
the output tree's path order (deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compiler.model import K8sObject
from compiler.render.layout import dump_yaml_stream, object_path

__all__ = ["Stream", "apply_order", "leaf_stream", "rank"]

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


@dataclass(frozen=True, slots=True)
class Stream:
    """One leaf as a YAML stream (`compile --stdout`): what the leaf deploys, in apply order."""

    leaves: tuple[str, ...]  # every ENV/REGION directory the objects fill, sorted
    text: bytes | None  # None when the target names no leaf, or none was named among several


def leaf_stream(objects: Iterable[K8sObject], environments: set[str], target: str | None
                ) -> Stream:
    """The objects of leaf `target` (None: the only one) and the cluster-wide ones. Argo
    CD's own objects are not the cluster's: the plugin prints what a leaf deploys."""
    ordered = apply_order(o for o in objects if o.dir.split("/")[0] != "argocd")
    leaves = tuple(sorted({o.dir for o in ordered if o.dir.split("/")[0] in environments}))
    chosen = target or (leaves[0] if len(leaves) == 1 else None)
    if (chosen is None and leaves) or (chosen is not None and chosen not in leaves):
        return Stream(leaves, None)
    return Stream(leaves, dump_yaml_stream(o.obj for o in ordered if o.dir == chosen
                                           or o.dir.split("/")[0] not in environments))
