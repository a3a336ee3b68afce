"""The steps of a reconcile that read and change the cluster: verify the rendered tree, plan
against the live objects, apply, wait for health, prune; and the inventory record they keep.

Apart from reconcile.py (the chain that runs them) and observe.py (the reading, fetching and
snapshot they rely on), so each step reads as the decisions it makes.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

from compiler.controller import inventory as inv
from compiler.controller import snapshot as snap
from compiler.controller.apply import ApplyResult, apply_changes
from compiler.controller.attest import Source
from compiler.controller.budget import check_budget
from compiler.controller.client import ApiError, Cluster, NotFoundError, UnknownKindError
from compiler.controller.health import wait_healthy
from compiler.controller.inventory import LABEL, Inventory, Ref, ref_of
from compiler.controller.lease import Lease, LeaseHeld
from compiler.controller.observe import (
    _all_refs,
    _drift_applied,
    _fetch_live,
    _noop_record,
    _read_files,
    _reread,
    _save_snapshot,
    _snapshot_path,
    _stamp,
    _target_files,
    _targets,
    _unmoved,
)
from compiler.controller.plan import Change, Op, apply_rank, decide, ordered
from compiler.controller.prune import prune
from compiler.sign.bundle import BUNDLE_NAME
from compiler.sign.statement import INDEX_NAME, IndexFormatError, parse_index
from compiler.sign.tree import read_regular

if TYPE_CHECKING:
    from compiler.controller.reconcile import State


RECORD_PREFIX = "mentat-inventory-"
RECORD_LABEL = "mentatlab.io/inventory-record"
SNAPSHOT_ANNOTATION = "mentatlab.io/snapshot-sha256"  # on the record: the snapshot it vouches for
_HEALTH_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob",
                           "CustomResourceDefinition", "Service"})


# --- verify ------------------------------------------------------------------------------------


def step_verify(s: State) -> bool:
    o = s.opts
    try:
        raw_index = read_regular(o.rendered / INDEX_NAME, 256 * 1024 * 1024)
        index = parse_index(raw_index)
    except (OSError, IndexFormatError) as exc:
        return s.stop("refused", f"{o.rendered} is not a rendered tree: {exc}")
    s.workspace = index.workspace
    s.inventory_id = inv.inventory_id(index.workspace or "workspace", o.env, o.region)
    bundle_digest = ""
    with contextlib.suppress(OSError):
        bundle_digest = hashlib.sha256(read_regular(o.rendered / BUNDLE_NAME, 1 << 28)).hexdigest()
    if o.trust_roots is not None:
        from compiler.sign.verify import verify_pki

        result = verify_pki(o.rendered, o.trust_roots)
    else:
        from compiler.sign.keyless import verify_keyless

        result = verify_keyless(o.rendered, o.identity, o.issuer)
    problems = [f"{d.location()}: error[{d.code}]: {d.message}" for d in result.diagnostics]
    if not result.ok and not o.allow_unsigned:
        s.source = Source(False, index.sha256, bundle_digest, result.signer, "unsigned", "", index.workspace)
        return s.stop("refused", "the rendered tree is unsigned or does not verify "
                      "(--allow-unsigned applies it anyway, and says so in the attestation)", problems)
    s.source = Source(result.ok, index.sha256, bundle_digest if result.ok else "", result.signer,
                      result.method if result.ok else "unsigned", result.commit, index.workspace)
    if not result.ok:
        s.problems += [f"applied unsigned (--allow-unsigned): {p}" for p in problems]
    if f"{o.env}/{o.region}" not in _targets(index.files):
        have = ", ".join(_targets(index.files)) or "none"
        return s.stop("refused", f"the rendered tree has no target {o.env}/{o.region} (it renders: {have})")
    s.files = {rel: index.files[rel] for rel in _target_files(index.files, o.env, o.region)}
    if o.snapshot_dir is not None:
        s.snapshot = snap.load(_snapshot_path(s), s.inventory_id)
    fresh = []
    for rel, digest in s.files.items():
        seen = s.snapshot.unchanged(rel, digest) if s.snapshot is not None else None
        if seen is None:
            fresh.append(rel)
            continue
        for obj in seen:  # applied from this very file last time: read only if it moved (plan)
            s.cached[obj.ref.key] = (rel, obj)
            s.file_of[obj.ref.key] = rel
    docs = _read_files(s, fresh)
    if docs is None:
        return False
    s.desired += docs
    return True


# --- plan --------------------------------------------------------------------------------------


def _record_ref(s: State) -> Ref:
    return Ref("", "ConfigMap", s.opts.inventory_namespace, RECORD_PREFIX + s.inventory_id, "v1")


def step_plan(s: State) -> bool:
    o = s.opts
    s.cluster = cluster = s.connect()
    if not o.dry_run:
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": o.inventory_namespace}},
                      metadata_only=True)
        s.lease = Lease(cluster, o.inventory_namespace, RECORD_PREFIX + s.inventory_id, o.holder)
        try:
            s.lease.acquire(o.lease_wait)
        except LeaseHeld as exc:
            s.lease = None
            return s.stop("refused", str(exc))
    record = cluster.get(_record_ref(s))
    s.record_data = (record or {}).get("data")
    annotations = ((record or {}).get("metadata") or {}).get("annotations") or {}
    s.record_anchor = str(annotations.get(SNAPSHOT_ANNOTATION, ""))
    try:
        s.old = inv.from_data((record or {}).get("data"), s.inventory_id)
    except inv.InventoryError as exc:
        return s.stop("failed", f"inventory record {_record_ref(s)} is damaged: {exc}")
    s.desired = [_stamp(obj, s.inventory_id) for obj in s.desired]
    s.live = _fetch_live(cluster, [ref_of(d) for d in s.desired], [seen.ref for _, seen in s.cached.values()],
                         s.inventory_id)
    trusted = s.snapshot is not None and s.snapshot.server == cluster.server and \
        s.snapshot.sha256 == s.record_anchor  # another API server's, or not the one the cluster names
    if not trusted and not _reread(s, set(s.files) - s.files_read):
        return False
    moved = {rel for key, (rel, seen) in s.cached.items() if not _unmoved(s.live.get(key), seen)}
    if not _reread(s, moved):  # written by someone since: compared in full below
        return False
    new = inv.new(s.inventory_id, _all_refs(s))
    if inv.diff(s.old, new) and not _reread(s, set(s.files) - s.files_read):
        return False  # what is pruned is never decided on the snapshot's word alone
    s.desired = ordered(s.desired)  # type: ignore[assignment]
    creating = {ref_of(d).name for d in s.desired
                if ref_of(d).kind == "Namespace" and ref_of(d).key not in s.live}  # dry-run cannot see them
    for obj in s.desired:
        ref = ref_of(obj)
        have = s.live.get(ref.key)
        dry = None
        if o.dry_run and (have is None or decide(obj, have).op != Op.NOOP):
            try:
                dry = cluster.apply(obj, force=o.force_conflicts, dry_run=True)
            except UnknownKindError:
                dry = None  # its CRD is in this very plan
            except NotFoundError:
                if ref.namespace not in creating:
                    s.problems.append(f"{ref}: server-side dry-run: namespace {ref.namespace} does not exist")
            except ApiError as exc:
                s.problems.append(f"{ref}: server-side dry-run refused it: {exc}")
        s.plan.changes.append(decide(obj, have, dry) if have is not None else Change(Op.CREATE, ref))
    s.plan.changes += [Change(Op.NOOP, seen.ref) for _, seen in s.cached.values()]
    s.plan.changes.sort(key=lambda c: (apply_rank(c.ref), c.ref.key))
    new = inv.new(s.inventory_id, _all_refs(s))
    for ref in inv.diff(s.old, new):
        live = cluster.get(ref) if _served(cluster, ref) else None
        if live is None:
            continue
        if ((live.get("metadata") or {}).get("labels") or {}).get(LABEL) != s.inventory_id:
            s.kept.append((ref, f"it has no {LABEL}={s.inventory_id} label"))
            continue
        s.prune_set.append(ref)
        s.plan.changes.append(Change(Op.DELETE, ref))
    if s.on_plan:
        s.on_plan(s.plan)
    refused = check_budget(s.prune_set, len(s.old), len(s.desired), o.budget)
    if refused:
        return s.stop("refused", "prune budget exceeded: nothing was changed", refused)
    if s.problems and o.dry_run:
        return s.stop("failed", "the server refused part of the change set in a dry run")
    if o.dry_run:
        s.result = "planned"
        return False
    return True


def _served(cluster: Cluster, ref: Ref) -> bool:
    try:
        cluster.kind(ref.api_version, ref.kind)
    except UnknownKindError:
        return False
    return True


# --- apply, health, prune ----------------------------------------------------------------------


def _write_record(s: State, refs: Inventory, anchor: str) -> None:
    """The inventory record: the objects, and the sha256 of the snapshot it vouches for."""
    assert s.cluster is not None
    meta: dict[str, Any] = {"name": RECORD_PREFIX + s.inventory_id,
                            "namespace": s.opts.inventory_namespace,
                            "labels": {RECORD_LABEL: "true", "app.kubernetes.io/managed-by": "mentatctl"}}
    if anchor:
        meta["annotations"] = {SNAPSHOT_ANNOTATION: anchor}
    data = inv.to_data(refs)
    if data == s.record_data and anchor == s.record_anchor:
        return  # a noop reconcile does not rewrite a record of 10k objects twice
    s.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}, force=True,
                    metadata_only=True)
    s.record_data, s.record_anchor = data, anchor


def step_apply(s: State) -> bool:
    assert s.cluster is not None and s.old is not None
    staged = inv.add(s.old, _all_refs(s))
    _write_record(s, staged, s.record_anchor)  # first: an object created here is never forgotten
    s.apply_started = True
    changes = {c.ref.key: c for c in s.plan.changes if c.op != Op.DELETE}
    result: ApplyResult = apply_changes(s.cluster, s.desired, changes, s.live,
                                        force=s.opts.force_conflicts, workers=s.opts.workers)
    unparsed = [_noop_record(seen, s.live[key]) for key, (_, seen) in s.cached.items()]
    s.applied = sorted([*result.applied, *unparsed], key=lambda a: (a.kind, a.namespace, a.name))
    s.restored = sorted(result.restored + _drift_applied(s, result))
    _save_snapshot(s)
    if result.conflicts:
        return s.stop("failed", "conflicts with other field managers that apply the same fields "
                      "(--force-conflicts takes them over)", result.conflicts)
    if result.errors:
        return s.stop("failed", "the API server refused objects", result.errors)
    return True


def step_health(s: State) -> bool:
    assert s.cluster is not None
    if not s.opts.wait:
        return True
    refs = [r for r in _all_refs(s) if r.kind in _HEALTH_KINDS]
    health = wait_healthy(s.cluster, refs, s.opts.timeout)
    if not health.ok:
        s.unhealthy = health.messages()
        why = "failed" if health.failed else f"still unhealthy after {s.opts.timeout:g}s"
        return s.stop("failed", f"{len(health.unhealthy)} object(s) {why}; nothing was pruned",
                      health.messages())
    return True


def step_prune(s: State) -> bool:
    assert s.cluster is not None
    result = prune(s.cluster, s.prune_set, s.inventory_id)
    s.pruned = result.deleted
    s.kept += result.kept
    done = {*result.deleted, *(k for k, _ in result.kept)}
    s.prune_failed = [r for r in s.prune_set if r not in done]
    final = inv.new(s.inventory_id, [*_all_refs(s), *s.prune_failed])
    _write_record(s, final, s.snapshot_saved)
    if result.errors:
        return s.stop("failed", "some objects could not be pruned (they stay in the inventory)",
                      result.errors)
    return True
