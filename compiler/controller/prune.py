"""The prune step: delete what the inventory holds and the tree no longer renders, in reverse
apply order, each delete conditional on the uid we saw (never a namesake created since).

Kept, whatever the inventory says: an object without our inventory label (someone took it
over, or it was never ours), and a Namespace that still holds objects we do not own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler.controller.client import ApiError, ClientError, Cluster
from compiler.controller.inventory import LABEL, Ref
from compiler.controller.plan import apply_rank

__all__ = ["PruneResult", "foreign_objects", "prune"]

# Created by Kubernetes itself in every namespace: never a reason to keep one.
_SYSTEM = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})
_SKIP_KINDS = frozenset({"Event", "Lease", "EndpointSlice", "Endpoints"})


@dataclass(slots=True)
class PruneResult:
    deleted: list[Ref] = field(default_factory=list)
    kept: list[tuple[Ref, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _ours(obj: dict[str, Any], inventory_id: str) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(LABEL) == inventory_id


def foreign_objects(cluster: Cluster, namespace: str, inventory_id: str, limit: int = 5) -> list[str]:
    """Objects in `namespace` that are not ours and not owned by another object."""
    found: list[str] = []
    for api_version, kind in cluster.namespaced_kinds():
        if kind in _SKIP_KINDS:
            continue
        try:
            items = cluster.list(api_version, kind, namespace)
        except ClientError:
            continue  # not listable by us: RBAC; it cannot be counted, so it is not counted
        for item in items:
            meta = item.get("metadata") or {}
            system = (kind, meta.get("name")) in _SYSTEM
            if _ours(item, inventory_id) or meta.get("ownerReferences") or system:
                continue
            found.append(f"{kind} {meta.get('name')}")
            if len(found) >= limit:
                return found
    return found


def prune(cluster: Cluster, refs: Sequence[Ref], inventory_id: str, dry_run: bool = False) -> PruneResult:
    result = PruneResult()
    for ref in sorted(refs, key=lambda r: (-apply_rank(r), r.key)):
        try:
            live = cluster.get(ref)
            if live is None:
                continue  # already gone: done
            if not _ours(live, inventory_id):
                result.kept.append((ref, f"it has no {LABEL}={inventory_id} label"))
                continue
            if ref.kind == "Namespace" and ref.group == "":
                foreign = foreign_objects(cluster, ref.name, inventory_id)
                if foreign:
                    result.kept.append((ref, "it holds objects we do not own: " + ", ".join(foreign)))
                    continue
            uid = str((live.get("metadata") or {}).get("uid", ""))
            if cluster.delete(ref, uid=uid, dry_run=dry_run):
                result.deleted.append(ref)
        except ApiError as exc:
            result.errors.append(f"{ref}: {exc}")
    return result
