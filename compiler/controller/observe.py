"""What a reconcile reads and keeps: the target's manifests (each checked against its signed
digest, parsed once per content), the live objects (listed, not fetched one by one), and the
snapshot of what it applied, which lets the next reconcile skip unchanged manifests.

Apart from steps.py so the steps read as the decisions they make; these helpers only gather
and record the facts they decide on.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from compiler.controller import snapshot as snap
from compiler.controller.apply import ApplyResult
from compiler.controller.attest import AppliedObject
from compiler.controller.client import Cluster, UnknownKindError
from compiler.controller.inventory import LABEL, Ref, ref_of
from compiler.controller.plan import DIGEST_ANNOTATION, Op, object_digest
from compiler.controller.snapshot import Seen
from compiler.sign.tree import read_regular

if TYPE_CHECKING:
    from compiler.controller.reconcile import State


_MAX_FILE = 16 * 1024 * 1024
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x the pure-Python parser
_PARSED: dict[str, list[dict[str, Any]]] = {}  # file sha256 -> its documents (verified bytes only)


# --- the rendered tree -------------------------------------------------------------------------


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


# --- the live objects --------------------------------------------------------------------------


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


# --- what was applied --------------------------------------------------------------------------


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
