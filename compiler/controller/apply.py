"""The apply step: server-side apply of the change set, rank by rank (plan.apply_rank), the
objects of one rank in parallel; CRDs must be Established before anything that uses them.

Drift is taken back: a field we apply that another manager changed with an ordinary write
(`kubectl edit`, `patch`, `scale`, a script: managedFields operation Update) conflicts on a
plain server-side apply; the object is applied again with force, as Flux's
kustomize-controller always does, and the result names each field and who had changed it.
A field another *applier* owns (operation Apply: a second declarative tool) is a real
ownership conflict: collected, not fatal one by one, the step fails naming each object, field
and manager, and `--force-conflicts` takes the fields over.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from compiler.controller.attest import AppliedObject
from compiler.controller.client import ApiError, Cluster, ConflictError
from compiler.controller.inventory import Ref, ref_of
from compiler.controller.plan import DIGEST_ANNOTATION, Change, Op, apply_rank, object_digest

__all__ = ["ApplyResult", "applied_record", "apply_changes"]


@dataclass(slots=True)
class ApplyResult:
    applied: list[AppliedObject] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)  # drift taken back: "ref: field: manager"

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors


def applied_record(desired: Mapping[str, Any], live: Mapping[str, Any]) -> AppliedObject:
    """What the attestation says of one object: its identity, the live uid and resourceVersion
    (all it needs of `live`, which may be PartialObjectMetadata) and the digest of `desired`."""
    ref = ref_of(desired)
    meta = live.get("metadata") or {}
    # the digest the object was stamped with (observe._stamp) is object_digest of exactly it
    digest = ((desired.get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    return AppliedObject(ref.api_version, ref.kind, ref.namespace, ref.name, str(meta.get("uid", "")),
                         str(meta.get("resourceVersion", "")), str(digest or object_digest(desired)))


_MANAGER = re.compile(r'conflict with "([^"]*)"')


def _appliers(cluster: Cluster, ref: Ref, managers: set[str]) -> set[str]:
    """Those of `managers` that own fields of the live object through server-side apply."""
    live = cluster.get(ref) or {}
    return {str(e.get("manager")) for e in (live.get("metadata") or {}).get("managedFields") or []
            if e.get("manager") in managers and e.get("operation") == "Apply"}


def _defines(crd: Mapping[str, Any]) -> tuple[str, str]:
    """The (group, kind) a CustomResourceDefinition serves."""
    spec = crd.get("spec") or {}
    return str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))


def _established(obj: Mapping[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _wait_established(cluster: Cluster, refs: Sequence[Ref], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    pending = list(refs)
    while pending:
        pending = [r for r in pending if not _established(cluster.get(r) or {})]
        if not pending:
            break
        if time.monotonic() > deadline:
            return [f"{r}: not Established after {timeout:.0f}s" for r in pending]
        time.sleep(0.2)
    return []


def apply_changes(
    cluster: Cluster,
    desired: Sequence[Mapping[str, Any]],
    changes: Mapping[tuple[str, str, str, str], Change],
    live: Mapping[tuple[str, str, str, str], Mapping[str, Any]],
    *,
    force: bool = False,
    workers: int = 8,
    crd_timeout: float = 60.0,
    on_object: Callable[[Change], None] | None = None,
) -> ApplyResult:
    """Apply every create/update in rank order; noops are recorded from their live state."""
    result = ApplyResult()

    def one(obj: Mapping[str, Any]) -> None:
        ref = ref_of(obj)
        change = changes[ref.key]
        if change.op == Op.NOOP:
            result.applied.append(applied_record(obj, live[ref.key]))
            return
        try:
            try:
                got = cluster.apply(obj, force=force, metadata_only=True)
            except ConflictError as exc:
                if not exc.field_conflict:
                    raise
                managers = {m for _, message in exc.causes for m in _MANAGER.findall(message)}
                if not managers or _appliers(cluster, ref, managers):
                    for field_path, message in exc.causes:
                        result.conflicts.append(f"{ref}: {field_path}: {message}")
                    return
                # edited live, not declared elsewhere: drift, taken back
                got = cluster.apply(obj, force=True, metadata_only=True)
                result.restored += [f"{ref}: {path}: changed live by {', '.join(_MANAGER.findall(why))}"
                                    for path, why in exc.causes]
        except ApiError as exc:
            result.errors.append(str(exc))
            return
        result.applied.append(applied_record(obj, got))
        if on_object:
            on_object(change)

    ranked = sorted(desired, key=lambda o: (apply_rank(ref_of(o)), ref_of(o).key))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for rank, group in itertools.groupby(ranked, key=lambda o: apply_rank(ref_of(o))):
            objs = list(group)
            list(pool.map(one, objs))
            if not result.ok:
                break  # later ranks depend on this one
            if rank == 0 and objs:  # CustomResourceDefinitions
                applied = [o for o in objs if changes[ref_of(o).key].op != Op.NOOP]
                result.errors += _wait_established(cluster, [ref_of(o) for o in applied], crd_timeout)
                cluster.forget_kinds(_defines(o) for o in applied)
                if not result.ok:
                    break
    result.applied.sort(key=lambda a: (a.kind, a.namespace, a.name))
    return result
