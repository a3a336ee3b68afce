"""What the last reconcile applied, kept beside the workspace so the next one need not parse
files it already applied: per manifest, the sha256 the signed index gives it and, per object
in it, the digest applied, the uid and the resourceVersion observed after the apply.

A file whose digest is unchanged and whose objects all still have that uid and
resourceVersion is a noop without being read: any write to an object, by anyone, moves its
resourceVersion, and then that file is parsed and compared in full (so a field changed live by
someone else is still found). The snapshot only ever *skips* work: what is applied always
comes from the verified file, and a reconcile that would prune anything does not trust the
snapshot for what the tree renders (the caller re-reads every file first). It lives in the
workspace, where a restored CI cache can replace it, so it is used only when its sha256 is
the one the inventory record in the cluster names (written after the apply that made it):
an edited snapshot cannot make a reconcile skip a changed manifest. An unreadable snapshot
is an empty one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from compiler.controller.inventory import Ref

__all__ = ["Seen", "Snapshot", "load", "save"]

_VERSION = 1


@dataclass(frozen=True, slots=True)
class Seen:
    """One object as last applied (its stamped digest) and observed (uid, resourceVersion)."""

    ref: Ref
    digest: str
    uid: str
    rv: str


@dataclass(slots=True)
class Snapshot:
    inventory: str
    server: str
    files: dict[str, tuple[str, tuple[Seen, ...]]] = field(default_factory=dict)  # rel -> (sha256, objects)
    sha256: str = ""  # of the file's bytes: the inventory record names the one it trusts

    def unchanged(self, rel: str, sha256: str) -> tuple[Seen, ...] | None:
        """The objects of `rel` when the snapshot has it at this very digest."""
        entry = self.files.get(rel)
        return entry[1] if entry is not None and entry[0] == sha256 else None


def _seen(row: Any) -> Seen:
    group, version, kind, namespace, name, digest, uid, rv = row
    return Seen(Ref(group, kind, namespace, name, version), digest, uid, rv)


def load(path: Path, inventory: str) -> Snapshot:
    """The snapshot of this inventory (its `server` says which API server it describes), or an
    empty one."""
    empty = Snapshot(inventory, "")
    try:
        raw = path.read_bytes()
        data = orjson.loads(raw)
        if data.get("version") != _VERSION or data.get("inventory") != inventory:
            return empty
        files = {rel: (str(sha), tuple(_seen(r) for r in rows)) for rel, (sha, rows) in data["files"].items()}
        return Snapshot(inventory, str(data["server"]), files, hashlib.sha256(raw).hexdigest())
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return empty


def build(inventory: str, server: str, file_digests: Mapping[str, str],
          file_objects: Mapping[str, Iterable[tuple[str, str, str, str]]], seen: Iterable[Seen]) -> Snapshot:
    """A snapshot of the files whose every object was applied or found unchanged (a file
    with an object that failed is left out: the next reconcile reads it again)."""
    by_key = {s.ref.key: s for s in seen}
    files: dict[str, tuple[str, tuple[Seen, ...]]] = {}
    for rel, keys in file_objects.items():
        got = [by_key.get(k) for k in sorted(keys)]
        if rel in file_digests and got and all(s is not None for s in got):
            files[rel] = (file_digests[rel], tuple(s for s in got if s is not None))
    return Snapshot(inventory, server, files)


def save(path: Path, snap: Snapshot) -> str:
    """Write atomically (a reader sees the old or the new snapshot, never half of one); the
    sha256 of what was written."""
    files = {rel: [sha, [[s.ref.group, s.ref.version, s.ref.kind, s.ref.namespace, s.ref.name,
                          s.digest, s.uid, s.rv] for s in seen]]
             for rel, (sha, seen) in sorted(snap.files.items())}
    body = orjson.dumps({"version": _VERSION, "inventory": snap.inventory, "server": snap.server,
                         "files": files})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(body)
    os.replace(tmp, path)
    return hashlib.sha256(body).hexdigest()
