"""One reconcile as a chain of named steps (Flux's build → apply → health → prune):

    verify → plan → apply → health → prune → attest → audit

Each step takes the shared `State`, does one thing, and says whether the chain goes on.
`attest` and `audit` run whatever happened before them (a refusal is recorded too), except in
a dry run, which stops after `plan`. Safe to cut off anywhere: the inventory record is widened
to old ∪ new before anything is applied and narrowed to the new tree only after the prune, so
a rerun converges and never forgets an object it may have created.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from compiler.controller import audit as audit_log
from compiler.controller import inventory as inv
from compiler.controller import snapshot as snap
from compiler.controller.apply import ApplyResult, apply_changes
from compiler.controller.attest import (
    AppliedObject,
    AttestationSignError,
    KeylessSigner,
    Source,
    build_statement,
    sign_statement,
    sign_statement_keyless,
)
from compiler.controller.budget import Budget, check_budget
from compiler.controller.client import ApiError, Cluster, ConfigError, NotFoundError, UnknownKindError
from compiler.controller.health import wait_healthy
from compiler.controller.inventory import LABEL, Inventory, Ref, ref_of
from compiler.controller.lease import Lease, LeaseHeld
from compiler.controller.plan import (
    DIGEST_ANNOTATION,
    Change,
    Op,
    Plan,
    apply_rank,
    decide,
    object_digest,
    ordered,
)
from compiler.controller.prune import prune
from compiler.controller.snapshot import Seen, Snapshot
from compiler.sign.bundle import BUNDLE_NAME
from compiler.sign.pki import Pki
from compiler.sign.statement import INDEX_NAME, IndexFormatError, canonical_json, parse_index
from compiler.sign.tree import read_regular

__all__ = ["RECORD_PREFIX", "STEPS", "Options", "Outcome", "State", "Step", "reconcile"]

RECORD_PREFIX = "mentat-inventory-"
ATTESTATION_PREFIX = "mentat-attestation-"
RECORD_LABEL = "mentatlab.io/inventory-record"
SNAPSHOT_ANNOTATION = "mentatlab.io/snapshot-sha256"  # on the record: the snapshot it vouches for
AUDIT_HEAD = "mentatlab.io/audit-head"
_HEALTH_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob",
                           "CustomResourceDefinition", "Service"})
_MAX_FILE = 16 * 1024 * 1024
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x the pure-Python parser
_PARSED: dict[str, list[dict[str, Any]]] = {}  # file sha256 -> its documents (verified bytes only)
_MAX_IN_CLUSTER = 900 * 1024  # a ConfigMap holds at most 1 MiB


@dataclass(slots=True)
class Options:
    rendered: Path
    env: str
    region: str
    trust_roots: list[x509.Certificate] | None = None
    identity: str = ""
    issuer: str = ""
    allow_unsigned: bool = False
    dry_run: bool = False
    force_conflicts: bool = False
    budget: Budget = field(default_factory=Budget)
    wait: bool = True
    timeout: float = 120.0
    inventory_namespace: str = "mentat-system"
    signer: Pki | KeylessSigner | None = None
    audit_log: Path | None = None
    attestation_out: Path | None = None
    snapshot_dir: Path | None = None  # what the last reconcile applied (snapshot.py); None: always parse
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}/{os.getpid()}")
    workers: int = 8
    lease_wait: float | None = None
    stop_after: str = ""  # a step name: tests cut a reconcile off there


@dataclass(slots=True)
class Step:
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class State:
    opts: Options
    connect: Callable[[], Cluster]
    started: dt.datetime
    cluster: Cluster | None = None
    result: str = "succeeded"  # succeeded | planned | refused | failed | interrupted
    reason: str = ""
    source: Source | None = None
    workspace: str = ""
    inventory_id: str = ""
    desired: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # the target's manifests -> sha256 (signed index)
    file_of: dict[tuple[str, str, str, str], str] = field(default_factory=dict)  # object -> its file
    snapshot: Snapshot | None = None
    cached: dict[tuple[str, str, str, str], tuple[str, Seen]] = field(default_factory=dict)  # not parsed
    record_data: dict[str, str] | None = None
    record_anchor: str = ""  # the record's SNAPSHOT_ANNOTATION
    snapshot_saved: str = ""  # sha256 of the snapshot this reconcile wrote
    files_read: set[str] = field(default_factory=set)  # the rest were vouched for by the snapshot
    live: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    old: Inventory | None = None
    record_rv: str = ""
    plan: Plan = field(default_factory=Plan)
    prune_set: list[Ref] = field(default_factory=list)
    kept: list[tuple[Ref, str]] = field(default_factory=list)
    applied: list[AppliedObject] = field(default_factory=list)
    apply_started: bool = False
    restored: list[str] = field(default_factory=list)
    pruned: list[Ref] = field(default_factory=list)
    prune_failed: list[Ref] = field(default_factory=list)
    unhealthy: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    lease: Lease | None = None
    attestation: Path | None = None
    attestation_digest: str = ""
    attestation_signed: bool = False
    audit_entry: dict[str, Any] | None = None
    on_plan: Callable[[Plan], None] | None = None

    def stop(self, result: str, reason: str, problems: Sequence[str] = ()) -> bool:
        self.result, self.reason = result, reason
        self.problems += list(problems)
        return False


@dataclass(slots=True)
class Outcome:
    result: str
    reason: str
    steps: list[Step]
    plan: Plan
    applied: list[AppliedObject]
    restored: list[str]
    pruned: list[Ref]
    kept: list[tuple[Ref, str]]
    unhealthy: list[str]
    problems: list[str]
    inventory: str
    files: dict[str, int]
    source: Source | None
    attestation: Path | None
    attestation_signed: bool
    audit_entry: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.result in ("succeeded", "planned")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "result": self.result,
            "reason": self.reason,
            "inventory": self.inventory,
            "files": self.files,
            "steps": [s.to_dict() for s in self.steps],
            "plan": self.plan.to_dict(),
            "applied": len(self.applied),
            "restored": self.restored,
            "pruned": [r.to_dict() for r in self.pruned],
            "kept": [{**r.to_dict(), "why": why} for r, why in self.kept],
            "unhealthy": self.unhealthy,
            "problems": self.problems,
            "source": self.source.to_dict() if self.source else None,
            "attestation": str(self.attestation) if self.attestation else None,
            "attestationSigned": self.attestation_signed,
            "audit": {"seq": self.audit_entry["seq"], "hash": self.audit_entry["hash"]}
            if self.audit_entry else None,
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# --- verify ------------------------------------------------------------------------------------


def _manifests(files: Mapping[str, str]) -> list[str]:
    """Kubernetes manifests of the tree: not the wasm bundles, not kustomizations, and not
    Argo CD's own objects (argocd/: they belong to the Argo CD cluster, not the target)."""
    return [p for p in files if p.endswith((".yaml", ".yml")) and not p.startswith(("bundles/", "argocd/"))
            and not p.rsplit("/", 1)[-1].startswith("kustomization.")]


def _targets(files: Mapping[str, str]) -> list[str]:
    """ENV/REGION leaves: directories two levels down holding manifests."""
    return sorted({p.rsplit("/", 1)[0] for p in _manifests(files) if p.count("/") == 2})


def _target_files(files: Mapping[str, str], env: str, region: str) -> list[str]:
    """The target's manifests plus the cluster-wide ones (CRDs, admission policies: every
    manifest outside the environments' directories), as `compile --stdout --target` picks."""
    envs = {t.split("/")[0] for t in _targets(files)}
    return sorted(p for p in _manifests(files)
                  if p.startswith(f"{env}/{region}/") or p.split("/")[0] not in envs)


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


def _snapshot_path(s: State) -> Path:
    assert s.opts.snapshot_dir is not None
    return s.opts.snapshot_dir / f"{s.inventory_id}.json"


def _read_files(s: State, rels: Sequence[str]) -> list[dict[str, Any]] | None:
    """The documents of these manifests, each file checked against its signed digest (None
    after stopping the reconcile when one cannot be read, changed, or is for another env)."""
    o = s.opts
    out: list[dict[str, Any]] = []
    for rel in rels:
        digest = s.files[rel]
        s.files_read.add(rel)
        if digest not in _PARSED:  # the controller loop parses a file again only when it changed
            try:
                data = read_regular(o.rendered / rel, _MAX_FILE)
            except OSError as exc:
                s.stop("refused", f"cannot read {rel}: {exc}")
                return None
            if hashlib.sha256(data).hexdigest() != digest:  # changed since verify read it
                s.stop("refused", f"{rel} changed after it was verified")
                return None
            _PARSED[digest] = [d for d in yaml.load_all(data, Loader=_LOADER) if isinstance(d, dict)]
        for doc in _PARSED[digest]:
            if not (doc.get("metadata") or {}).get("name"):
                continue
            labels = (doc.get("metadata") or {}).get("labels") or {}
            env = labels.get("mentatlab.io/environment")
            if env is not None and env != o.env:
                s.stop("refused", f"{rel} is rendered for environment {env!r}, not {o.env!r}")
                return None
            s.file_of[ref_of(doc).key] = rel
            s.cached.pop(ref_of(doc).key, None)
            out.append(doc)
    return out


# --- plan --------------------------------------------------------------------------------------


def _stamp(obj: Mapping[str, Any], inventory_id: str) -> dict[str, Any]:
    """The object as we apply it: our inventory label and the digest of exactly this. Only
    the metadata maps are copied: the parsed documents are shared (the loop's parse cache),
    never changed."""
    meta = dict(obj.get("metadata") or {})
    meta["labels"] = {**(meta.get("labels") or {}), LABEL: inventory_id}
    out = {**obj, "metadata": meta}
    meta["annotations"] = {**(meta.get("annotations") or {}), DIGEST_ANNOTATION: object_digest(out)}
    return out


PARTIAL = "PartialObjectMetadata"
_GET_AT_MOST = 20  # objects of one kind and namespace fetched one by one; more: one LIST


def _fetch_live(cluster: Cluster, full: Sequence[Ref], meta_only: Sequence[Ref], inventory_id: str
                ) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    """One LIST per (apiVersion, kind, namespace) of the tree, never a GET per object. A
    group holding only objects the snapshot vouches for is listed as metadata alone (uid and
    resourceVersion are all the plan needs; such items get the kind PartialObjectMetadata),
    and only those carrying our inventory label: one we applied that lost its label is
    absent, so it is compared in full (fetched on its own) like a moved one."""
    groups: dict[tuple[str, str, str], tuple[set[str], bool]] = {}
    for refs, whole in ((full, True), (meta_only, False)):
        for ref in refs:
            names, was = groups.get((ref.api_version, ref.kind, ref.namespace), (set(), False))
            names.add(ref.name)
            groups[(ref.api_version, ref.kind, ref.namespace)] = (names, was or whole)

    def one(group: tuple[str, str, str]) -> list[tuple[tuple[str, str, str, str], dict[str, Any]]]:
        api_version, kind, namespace = group
        names, whole = groups[group]
        try:
            items = cluster.list(api_version, kind, namespace, metadata_only=not whole,
                                 label_selector="" if whole else f"{LABEL}={inventory_id}")
        except UnknownKindError:
            return []  # a kind whose CRD this very tree installs: everything is a create
        api_group = api_version.rpartition("/")[0]
        out = []
        for item in items:
            meta = item.get("metadata") or {}
            if meta.get("name") in names:
                key = (api_group, kind, str(meta.get("namespace") or ""), str(meta["name"]))
                out.append((key, item if whole else {"kind": PARTIAL, "metadata": meta}))
        return out

    # (four LISTs at a time measured no faster at 1k or 10k objects: the apiserver is the bound)
    return {key: item for group in sorted(groups) for key, item in one(group)}


def _unmoved(live: Mapping[str, Any] | None, seen: Seen) -> bool:
    """Nobody wrote the object since we applied or last compared it: same uid, same
    resourceVersion (every write moves it)."""
    meta = (live or {}).get("metadata") or {}
    return bool(seen.uid) and meta.get("uid") == seen.uid and meta.get("resourceVersion") == seen.rv


def _reread(s: State, rels: set[str]) -> bool:
    """Parse files the snapshot let us skip, and fetch in full their objects that were listed
    as metadata alone or not listed (a group with many such objects is listed again in full,
    as after a first apply whose Deployments' status the controllers then wrote)."""
    assert s.cluster is not None
    if not rels:
        return True
    for key in [k for k, (rel, _) in s.cached.items() if rel in rels]:
        del s.cached[key]
    docs = _read_files(s, sorted(rels))
    if docs is None:
        return False
    wanted: list[Ref] = []
    for doc in docs:
        stamped = _stamp(doc, s.inventory_id)
        s.desired.append(stamped)
        ref = ref_of(stamped)
        if ref.key not in s.live or s.live[ref.key].get("kind") == PARTIAL:
            s.live.pop(ref.key, None)
            wanted.append(ref)
    by_group: dict[tuple[str, str, str], list[Ref]] = {}
    for ref in wanted:
        by_group.setdefault((ref.api_version, ref.kind, ref.namespace), []).append(ref)
    listed = [r for refs in by_group.values() if len(refs) > _GET_AT_MOST for r in refs]
    s.live.update(_fetch_live(s.cluster, listed, [], s.inventory_id))
    for ref in (r for refs in by_group.values() if len(refs) <= _GET_AT_MOST for r in refs):
        got = s.cluster.get(ref)
        if got is not None:
            s.live[ref.key] = got
    return True


def _all_refs(s: State) -> list[Ref]:
    """Every object of the tree: parsed, or vouched for by the snapshot."""
    return [*(ref_of(d) for d in s.desired), *(seen.ref for _, seen in s.cached.values())]


def _record_ref(s: State) -> Ref:
    return Ref("", "ConfigMap", s.opts.inventory_namespace, RECORD_PREFIX + s.inventory_id, "v1")


def step_plan(s: State) -> bool:
    o = s.opts
    s.cluster = cluster = s.connect()
    if not o.dry_run:
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": o.inventory_namespace}})
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
    s.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}, force=True)
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


def _drift_applied(s: State, result: ApplyResult) -> list[str]:
    """Fields the plan showed as changed live by someone else and that this apply wrote back
    without a conflict (a subresource's writer, such as `kubectl scale`, does not conflict)."""
    done = {(a.kind, a.namespace, a.name) for a in result.applied}
    forced = {line.split(": ")[0] + ": " + line.split(": ")[1] for line in result.restored}
    out = []
    for c in s.plan.of(Op.UPDATE):
        if (c.ref.kind, c.ref.namespace, c.ref.name) not in done:
            continue
        for o in c.owners:
            head = f"{c.ref}: .{o.path}"
            if o.drift and head not in forced:
                out.append(f"{head}: changed live by {o.manager}")
    return out


def _noop_record(seen: Seen, live: Mapping[str, Any]) -> AppliedObject:
    meta = live.get("metadata") or {}
    ref = seen.ref
    return AppliedObject(ref.api_version, ref.kind, ref.namespace, ref.name, str(meta.get("uid", "")),
                         str(meta.get("resourceVersion", "")), seen.digest)


def _save_snapshot(s: State) -> None:
    """Record what this reconcile applied or found unchanged (a failed object's file is left
    out, so the next reconcile reads it); a snapshot that cannot be written only costs speed."""
    if s.opts.snapshot_dir is None or s.cluster is None:
        return
    seen = [Seen(ref_of({"apiVersion": a.api_version, "kind": a.kind,
                         "metadata": {"namespace": a.namespace, "name": a.name}}),
                 a.digest, a.uid, a.resource_version) for a in s.applied]
    by_file: dict[str, list[tuple[str, str, str, str]]] = {}
    for key, rel in s.file_of.items():
        by_file.setdefault(rel, []).append(key)
    with contextlib.suppress(OSError):
        s.snapshot_saved = snap.save(_snapshot_path(s), snap.build(s.inventory_id, s.cluster.server, s.files,
                                                                   by_file, seen))


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


# --- attest, audit -----------------------------------------------------------------------------


def step_attest(s: State) -> bool:
    o = s.opts
    source = s.source or Source(False, "")
    statement = build_statement(
        source=source,
        target={"environment": o.env, "region": o.region, "inventory": s.inventory_id},
        cluster={"server": s.cluster.server, "context": s.cluster.context} if s.cluster else {},
        plan_counts=s.plan.counts(),
        applied=s.applied,
        pruned=[r.to_dict() for r in s.pruned],
        result=s.result,
        reason=s.reason,
        started=s.started,
        finished=_now(),
    )
    body = canonical_json(statement) + b"\n"
    if isinstance(o.signer, Pki):
        body, s.attestation_signed = sign_statement(statement, o.signer), True
    elif isinstance(o.signer, KeylessSigner):
        try:
            body, s.attestation_signed = sign_statement_keyless(statement, o.signer), True
        except AttestationSignError as exc:  # Fulcio, Rekor or the token: kept, unsigned, and said so
            s.problems.append(f"the attestation could not be signed keyless (written unsigned): {exc}")
            if s.result == "succeeded":
                s.result, s.reason = "failed", "the attestation could not be signed"
    s.attestation_digest = hashlib.sha256(body).hexdigest()
    if o.attestation_out is not None:
        o.attestation_out.parent.mkdir(parents=True, exist_ok=True)
        tmp = o.attestation_out.with_name(o.attestation_out.name + ".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, o.attestation_out)
        s.attestation = o.attestation_out
    if s.cluster is not None and s.apply_started and len(body) <= _MAX_IN_CLUSTER:
        try:
            s.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": ATTESTATION_PREFIX + s.inventory_id,
                                          "namespace": o.inventory_namespace,
                                          "labels": {RECORD_LABEL: "attestation"}},
                             "binaryData": {"attestation.json": _b64(body)}}, force=True)
        except ApiError as exc:
            s.problems.append(f"the attestation could not be stored in the cluster: {exc}")
    return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def step_audit(s: State) -> bool:
    o = s.opts
    if o.audit_log is None:
        return True
    event = {
        "inventory": s.inventory_id,
        "environment": o.env,
        "region": o.region,
        "result": s.result,
        "reason": s.reason,
        "plan": s.plan.counts(),
        "pruned": len(s.pruned),
        "source": s.source.to_dict() if s.source else None,
        "cluster": s.cluster.server if s.cluster else "",
        "attestation": {"sha256": s.attestation_digest, "signed": s.attestation_signed},
        "holder": o.holder,
    }
    s.audit_entry = audit_log.append(o.audit_log, event, _now().isoformat().replace("+00:00", "Z"))
    return True


Runner = Callable[[State], bool]
STEPS: tuple[tuple[str, Runner], ...] = (
    ("verify", step_verify),
    ("plan", step_plan),
    ("apply", step_apply),
    ("health", step_health),
    ("prune", step_prune),
)
FINALLY: tuple[tuple[str, Runner], ...] = (("attest", step_attest), ("audit", step_audit))


def reconcile(opts: Options, connect: Callable[[], Cluster],
              on_plan: Callable[[Plan], None] | None = None,
              on_step: Callable[[str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Outcome:
    """Run the chain. Connection and configuration errors become a failed outcome, never a
    traceback; the Lease is always released."""
    s = State(opts, connect, _now(), on_plan=on_plan)
    try:
        for name, run in STEPS:
            if on_step:
                on_step(name)
            try:
                go_on = run(s)
            except (ApiError, ConfigError) as exc:
                go_on = s.stop("failed", f"{name}: {exc}")
            ok = go_on or s.result in ("succeeded", "planned")
            s.steps.append(Step(name, ok, "" if go_on else s.reason))
            if not go_on or name == opts.stop_after:
                break
            if should_stop is not None and should_stop() and name != STEPS[-1][0]:
                s.stop("interrupted", f"stopped after step {name} (SIGTERM); the next reconcile goes on")
                break
        if s.result != "planned" and opts.stop_after not in {n for n, _ in STEPS}:
            for name, run in FINALLY:
                if on_step:
                    on_step(name)
                try:
                    run(s)
                    s.steps.append(Step(name, True))
                except (ApiError, OSError, ValueError) as exc:
                    s.problems.append(f"{name}: {exc}")
                    s.steps.append(Step(name, False, str(exc)))
    finally:
        if s.lease is not None:
            s.lease.release()
    return Outcome(s.result, s.reason, s.steps, s.plan, s.applied, s.restored, s.pruned, s.kept, s.unhealthy,
                   s.problems, s.inventory_id,
                   {"manifests": len(s.files), "read": len(s.files_read),
                    "skipped": len(s.files) - len(s.files_read)},  # vouched for by the snapshot
                   s.source, s.attestation, s.attestation_signed, s.audit_entry)


def describe(outcome: Outcome) -> str:
    return json.dumps(outcome.to_dict(), indent=2)
