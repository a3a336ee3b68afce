"""Incremental compilation: a content-addressed cache under `<workspace>/.mentat/`.

`store` keeps sealed entries (HMAC, packs, pruning); each stage that can reuse earlier work
is handed its own small memo by the pipeline (`Memos`): `parse` (load), `units` (render, and
layout's serialiser), `checks` (check), `policy` (both policy phases). `builds` is the
make-style skip of a whole compile, and `outputs` (write/) the snapshots and standby copies
of the output trees. `save` stores what a successful compile made.

`.mentat/manifest.json` is the dependency graph of the last compile (dbt-style): sources →
render units → output files. `.mentat/standby/` holds the standby copies of output trees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from compiler.cache.checks import CheckMemo
from compiler.cache.parse import ParseMemo
from compiler.cache.policy import PolicyMemo
from compiler.cache.replay import Builds, Replay
from compiler.cache.store import CACHE_DIR, KEY_ENV, Stats, Store, atomic_write, fingerprint, key_path
from compiler.cache.units import Unit, UnitMemo
from compiler.render.layout import INDEX, object_path
from compiler.write.outputs import STANDBY_DIR, Outputs
from compiler.write.tree import Standby

__all__ = ["CACHE_DIR", "KEY_ENV", "MANIFEST", "STANDBY_DIR", "Cache", "Memos", "Replay",
           "fingerprint", "key_path"]

MANIFEST = ".mentat/manifest.json"


@dataclass(frozen=True, slots=True)
class Memos:
    """What the pipeline hands the stages that reuse earlier work."""

    parse: ParseMemo
    units: UnitMemo
    checks: CheckMemo
    policy: PolicyMemo
    builds: Builds


class Cache:
    """One compile's view of `<root>/.mentat/`: lookups, then `save()` at the end.
    `shared`: compile `root` (a temporary tree, as `diff` makes) with the entries of that
    workspace's cache, adding new ones and dropping none."""

    def __init__(self, root: Path, shared: Path | None = None) -> None:
        self.root = root
        self.store = Store(root, shared)
        self.outputs = Outputs(self.store, root)
        units = UnitMemo(self.store)
        self.memos = Memos(ParseMemo(self.store), units, CheckMemo(self.store, units),
                           PolicyMemo(self.store), Builds(self.store, self.outputs, root))
        self._manifest_data: dict[str, Any] | None = None

    @property
    def disabled(self) -> bool:
        return self.store.disabled

    @property
    def stats(self) -> Stats:
        return self.store.stats

    def replay(self, output: str | None) -> Replay | None:
        return self.memos.builds.replay(output)

    def prescan(self) -> None:
        """Walk the last compile's output tree while this one runs (write.outputs)."""
        last = self.memos.builds.last_output
        if last is not None:
            self.outputs.prescan(*last)

    def save(self, sources: dict[str, str], out: Path | None = None,
             files: Mapping[str, bytes] | None = None, *, written: bool = True,
             standby: Standby | None = None) -> None:
        """After a successful compile: store new entries and the manifest (with a stat
        snapshot of `files` as they now are under `out`; `written` says whether this
        compile changed the tree; `standby`, the second buffer the write used), and drop
        entries no longer used."""
        if self.store.disabled:
            return
        m = self.memos
        try:
            made: set[str] = set()
            stored = m.units.store(made) if m.checks.clean else 0
            m.checks.store()
            if out is not None and files and INDEX in files:
                m.builds.store(files[INDEX])
            if (not stored and not self.store.changed and not written
                    and self._manifest_current(sources, out)):
                return  # nothing new to remember: a no-change compile writes nothing
            if out is not None:
                self.outputs.remember(out, files or {}, standby)
            unpruned = self._read_manifest().get("unpruned", 0)
            unpruned = self.store.flush(made, (unpruned if type(unpruned) is int else 0) + stored)
            self._write_manifest(sources, out, unpruned)
        except OSError:
            pass  # a cache that cannot be written only costs speed

    def _read_manifest(self) -> dict[str, Any]:
        if self._manifest_data is None:
            try:
                data = orjson.loads((self.root / MANIFEST).read_bytes())
            except (OSError, ValueError):
                data = {}
            self._manifest_data = data if isinstance(data, dict) else {}
        return self._manifest_data

    def _manifest_current(self, sources: dict[str, str], out: Path | None) -> bool:
        if out is not None and not self.outputs.untouched(out):
            return False  # the snapshot is missing, refused or stale: write a new one
        m = self._read_manifest()
        return (m.get("compiler") == fingerprint() and m.get("sources") == sources
                and m.get("output") == (str(out) if out is not None else None)
                and m.get("unit_keys") == self.memos.units.keys)

    def _write_manifest(self, sources: dict[str, str], out: Path | None, unpruned: int) -> None:
        old = self._read_manifest().get("units")
        old_units = {u.get("key"): u for u in old if type(u) is dict} if type(old) is list else {}
        manifest = {
            "compiler": fingerprint(),
            "sources": dict(sorted(sources.items())),
            "units": sorted((_unit_record(old_units, *u) for u in self.memos.units.units),
                            key=lambda u: u["key"]),
            "unit_keys": self.memos.units.keys,
            "output": str(out) if out is not None else None,
            "unpruned": unpruned,  # entries written since the cache was last pruned
        }
        if manifest != self._read_manifest():
            atomic_write(self.root / MANIFEST,
                         orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS
                                      | orjson.OPT_APPEND_NEWLINE))


def _unit_record(old: dict[Any, Any], unit_key: str, deps: tuple[str, ...], unit: Unit,
                 hit: bool) -> dict[str, Any]:
    """A unit in the manifest: its sources and outputs (a key names both, so an entry of the
    last manifest with that key serves again)."""
    if hit:
        found = old.get(unit_key)
        if found is not None and found.keys() == {"key", "sources", "outputs"}:
            return found
    return {"key": unit_key, "sources": sorted(deps),
            "outputs": sorted(object_path(o) for o in unit[0])}
