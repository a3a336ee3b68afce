"""What the last compiles left in each output tree and in its standby copy, kept as records
by the incremental cache: stat snapshots, the standby buffer, and the prescan.

Each output directory has two snapshot slots, the newer the output tree's, the older its
standby's: exchanging the trees makes the output's snapshot the standby's by writing the new
one over the older slot, not by copying it. A snapshot lists the stat and sha256 of every
file; a file whose stat still matches is known without reading it (as git's index does).
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from compiler.render.layout import files_of
from compiler.write.tree import Known, Standby, hold, snapshot, untouched
from compiler.write.walk import Prescan, Scan

__all__ = ["PRESCAN_MIN_FILES", "STANDBY_DIR", "Outputs", "Records"]

T = TypeVar("T")
STANDBY_DIR = ".mentat/standby"  # the second buffer of each output tree (tree.Standby)
PRESCAN_MIN_FILES = 2000  # below, walking the trees inline costs about what the helper does


class Records(Protocol):
    """Where the snapshots are kept (the cache's sealed store)."""

    disabled: bool

    def key(self, kind: str, parts: Iterable[str]) -> str: ...
    def decoded(self, kind: str, entry_key: str, decode: Callable[[Any], T]) -> T | None: ...
    def put(self, kind: str, entry_key: str, value: Any, decoded: Any = None) -> None: ...
    def reject(self, kind: str, entry_key: str) -> None: ...
    def touch(self, kind: str, entry_key: str) -> None: ...


class Slot(NamedTuple):
    key: str
    generation: int  # -1: empty or refused
    known: Known


class Outputs:
    def __init__(self, records: Records, root: Path) -> None:
        self._records, self._root = records, root
        self._slots: dict[str, tuple[Slot, Slot]] = {}  # out -> its and its standby's
        # the output tree a Prescan walks, its standby (held, when it has one), the walker
        self._prescan: tuple[Path, Standby | None, Prescan] | None = None

    def known(self, out: Path) -> Known:
        """The stat and sha256 of every output file under `out` as the last compile left
        it (empty when unknown: the tree is then read in full)."""
        return self.slots(out)[0].known

    def untouched(self, out: Path) -> bool:
        """Whether `out` is exactly as its snapshot says (false without one)."""
        known = self.known(out)
        return bool(known) and untouched(out, known)

    def slots(self, out: Path) -> tuple[Slot, Slot]:
        """The snapshots of `out` and of its standby, the newer first."""
        found = self._slots.get(str(out))
        if found is None:
            slots = []
            for n in ("0", "1"):
                slot_key = self._records.key("snapshot", (str(out), n))
                slot = Slot(slot_key, -1, {})
                try:
                    slot = self._records.decoded("snapshot", slot_key,
                                                 partial(_slot_in, slot_key)) or slot
                except (TypeError, ValueError):
                    self._records.reject("snapshot", slot_key)
                slots.append(slot)
            newer, older = sorted(slots, key=lambda s: s.generation, reverse=True)
            found = self._slots[str(out)] = (newer, older)
        return found

    def touch(self, out: Path) -> None:
        """The snapshots of `out` are in use, though not written again."""
        for s in self.slots(out):
            self._records.touch("snapshot", s.key)

    def standby(self, out: Path) -> Standby | None:
        """The second buffer of the output tree `out`, with what the last compile left in it
        (tree.write_tree keeps it up to date and exchanges it with `out`)."""
        if self._records.disabled:
            return None
        if self._prescan is not None and self._prescan[0] == out and self._prescan[1]:
            sb = self._prescan[1]
            if sb.lock is not None:  # held since it was walked: the walk is still true
                sb.scanned = self._prescan[2].walk(sb.path)
            return sb
        name = hashlib.sha256(str(out).encode()).hexdigest()[:16]
        return Standby(self._root / STANDBY_DIR / name, self.slots(out)[1].known)

    def prescan(self, out: Path, files: int) -> None:
        """Walk the last compile's output tree `out` (of `files` files) and its standby in a
        helper process while this compile runs (walk.Prescan); the standby is held for this
        compile meanwhile. Only for trees large enough to repay starting the helper, with a
        core to run it."""
        if self._records.disabled or (os.cpu_count() or 1) < 2 or files < PRESCAN_MIN_FILES:
            return
        sb = self.standby(out)
        paths = [out]
        if sb is not None and sb.path.is_dir() and hold(out, sb):
            paths.append(sb.path)
        self._prescan = (out, sb, Prescan(paths))

    def scanned(self, out: Path) -> Scan | None:
        """The prescan's walk of `out`, if it walked that tree."""
        if self._prescan is None or self._prescan[0] != out:
            return None
        return self._prescan[2].walk(out)

    def remember(self, out: Path, files: Mapping[str, bytes], standby: Standby | None) -> None:
        """Snapshot `files` as they now are under `out`; `standby`, the second buffer the
        write used (its `written` is the snapshot of what it put in place)."""
        current, older = self.slots(out)
        if standby is not None and standby.written is not None:
            value = standby.written  # what the writer wrote or kept, as it left them
            # The tree the output held is the standby now: the output's slot, as it is,
            # holds its snapshot once the new one is written over the older slot. (Were it
            # stale, its stats would not match: nothing is kept on a snapshot's word.)
            slot = Slot(older.key, current.generation + 1, value)
            if standby.twin:  # the standby is the same files: the same snapshot
                self._records.put("snapshot", current.key,
                                  (current.generation, _known_out(value)),
                                  Slot(current.key, current.generation, value))
        else:
            tree = files_of(files)
            value = {rel: (st, tree.digest(rel)) for rel, st in snapshot(out, tree).items()}
            slot = Slot(current.key, max(current.generation, 0), value)
        self._records.put("snapshot", slot.key, (slot.generation, _known_out(slot.known)), slot)


def _slot_in(slot_key: str, value: Any) -> Slot:
    generation, columns = value
    if type(generation) is not int:
        raise TypeError("bad snapshot entry")
    return Slot(slot_key, generation, _known_in(columns))


def _known_out(known: Known) -> tuple[str, str, bytes]:
    """A snapshot as three blobs: its paths and its digests, each joined by NULs, and its
    stats as 64-bit ints. Marshal reads three objects instead of 60k at 10k files."""
    values = known.values()
    stats = array("q", chain.from_iterable(map(itemgetter(0), values)))
    return "\0".join(known), "\0".join(map(itemgetter(1), values)), stats.tobytes()


def _known_in(value: Any) -> Known:
    paths, digests, stats = value
    if not (type(paths) is type(digests) is str and type(stats) is bytes):
        raise TypeError("bad snapshot entry")
    if not paths:
        if digests or stats:
            raise ValueError("bad snapshot entry")
        return {}
    path_list, digest_list = paths.split("\0"), digests.split("\0")
    if not len(path_list) == len(digest_list) == len(stats) // 32 or len(stats) % 32:
        raise ValueError("bad snapshot entry")
    flat = iter(array("q", stats))
    stat_tuples = zip(flat, flat, flat, flat, strict=True)  # one iterator: in fours
    return dict(zip(path_list, zip(stat_tuples, digest_list, strict=True), strict=True))
