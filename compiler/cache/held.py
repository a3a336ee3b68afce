"""What a long-running process (`compile --watch`) keeps of the sealed store between its
compiles: each file of `.mentat/cache/` it read and verified, or wrote, as it decoded it
(a pack shard's entries, an output snapshot), with the stat the file had then.

Within `holding()`, `through` gives what a file held while its stat (inode, size, mtime,
ctime) is unchanged, instead of reading, verifying and decoding it again (~20 ms of CPU in a
one-flow edit at 10k objects for the packs, mostly unmarshalling, ~10 ms for the
snapshots). What is held is shared between the compiles: its readers never mutate it
(tests/unit/cache/test_holding.py). A file another process rewrote has a new stat and is
read again. Whatever is held was verified or written by this process: at worst a held shard
misses entries another compile added in the same instant, which are made again. Outside
`holding()` every function here reads, or does nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["checked", "holding", "sound", "through", "touched", "wrote"]

T = TypeVar("T")
Signature = tuple[int, ...]


@dataclass(slots=True)
class _File:
    sig: Signature | None  # its stat when read or written (None: there was no file)
    value: Any
    sound: set[str] | None = None  # the keys `Store.sound` found of the right shape


_held: dict[str, _File] | None = None  # by path, within `holding()`


@contextlib.contextmanager
def holding() -> Iterator[None]:
    global _held
    previous, _held = _held, {}
    try:
        yield
    finally:
        _held = previous


def through(path: str | Path, load: Callable[[], T | None]) -> T | None:
    """`load()` of the file at `path`, or what it gave last while the file is unchanged."""
    if _held is None:
        return load()
    found = _held.get(str(path))
    sig = _signature(path)
    if found is not None and found.sig == sig:
        value: T = found.value
        return value
    loaded = load()
    if loaded is not None:
        _held[str(path)] = _File(sig, loaded)
    return loaded


def wrote(path: str | Path, value: Any) -> None:
    """`value` was just written to `path`, as `through` would give it."""
    if _held is not None:
        _held[str(path)] = _File(_signature(path), value)


def touched(path: str | Path) -> None:
    """A held file's new times are this process's own doing."""
    found = _held.get(str(path)) if _held is not None else None
    if found is not None:
        found.sig = _signature(path)


def sound(path: str | Path, entries: dict[str, Any]) -> set[str] | None:
    """What `checked` said of these very entries of a held shard."""
    found = _held.get(str(path)) if _held is not None else None
    return found.sound if found is not None and found.value is entries else None


def checked(path: str | Path, entries: dict[str, Any], keys: set[str]) -> None:
    found = _held.get(str(path)) if _held is not None else None
    if found is not None and found.value is entries:
        found.sound = keys


def _signature(path: str | Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns
