"""Commits kept between diffs under `<workspace>/.mentat/diff/<commit>/`: the commit's
workspace files (`src/`, from `gitsrc.export`) and the output tree the diff compiled from
them (`out/`).

A commit never changes, so its files are extracted once. The second diff that compiles it
also writes its output tree and records it in the incremental cache (as `compile` records
its own), so later diffs of that commit, the base of every push to a pull request, replay
it like a no-change compile instead of compiling. (Not the first: a CI job starts with no
`.mentat/`, diffs once and is gone, and writing 10k files would cost it more than the
compile.) `.mentat/` can be written by whoever restores a CI cache: the
files are compared with the commit's git object ids (`gitsrc.exported`) before any compile
reads them, and extracted again when they differ; the output tree is trusted only through
the cache's authenticated record of it (`Cache.replay`). The `KEEP` most recently used
commits stay; older ones are deleted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from compiler.cache import CACHE_DIR
from compiler.diff.gitsrc import Repo, export, exported

__all__ = ["KEEP", "Kept", "checkout", "diff_dir", "kept", "linked"]

KEEP = 4  # a pull request's base and head, and a couple of others
_STALE_TMP = 3600.0  # seconds: an unfinished extraction this old belongs to no running diff


@dataclass(frozen=True, slots=True)
class Kept:
    dir: Path  # .mentat/diff/<commit>
    root: Path  # the commit's workspace root in it
    out: Path  # the output tree compiled from it


def diff_dir(workspace: Path) -> Path:
    return workspace / Path(CACHE_DIR).parent / "diff"


def kept(repo: Repo, commit: str, workspace: Path) -> Kept | None:
    """Where `commit` is kept (nothing read or checked); None when `.mentat/diff` is a
    symlink: evicting old commits would delete whatever it points at."""
    store = diff_dir(workspace)
    if os.path.islink(store):
        return None
    d = store / commit
    return Kept(d, d / "src" / repo.prefix if repo.prefix else d / "src", d / "out")


def linked(k: Kept) -> bool:
    """Whether a kept commit's directories are symlinks (planted: not ours to follow)."""
    return any(os.path.islink(p) for p in (k.dir, k.dir / "src", k.out))


def checkout(repo: Repo, commit: str, workspace: Path) -> tuple[Kept, bool]:
    """The kept commit with its files exactly the commit's, extracted when missing or
    different (OSError: they cannot be written); and whether an earlier diff kept it."""
    k = kept(repo, commit, workspace)
    if k is None:
        raise OSError(f"{diff_dir(workspace)} is a symlink")
    if linked(k):
        _remove(k.dir)  # the link itself, not what it points at
    elif k.dir.is_dir():
        if exported(repo, commit, k.root):
            os.utime(k.dir)  # recently used: evicted last
            return k, True
        _remove(k.dir)
    store = k.dir.parent
    store.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{commit[:12]}-", dir=store))
    try:
        export(repo, commit, tmp / "src")
    except BaseException:
        _remove(tmp)
        raise
    try:
        os.rename(tmp, k.dir)
    except OSError:
        _remove(tmp)
        # another diff kept the same commit meanwhile: use it once it checks out
        if not (k.dir.is_dir() and exported(repo, commit, k.root)):
            raise
    _evict(store, k.dir)
    return k, False


def _evict(store: Path, current: Path) -> None:
    now = time.time()
    trees: list[tuple[float, Path]] = []
    for entry in os.scandir(store):
        path = Path(entry.path)
        if entry.name.startswith(".tmp-"):
            if now - entry.stat(follow_symlinks=False).st_mtime > _STALE_TMP:
                _remove(path)
        elif path != current:
            trees.append((entry.stat(follow_symlinks=False).st_mtime, path))
    for _, path in sorted(trees, reverse=True)[KEEP - 1:]:
        _remove(path)


def _remove(path: Path) -> None:
    """Moved aside first, so a half-deleted tree is never taken for a kept one. A symlink
    is removed itself, never what it points at."""
    if os.path.islink(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    aside = path.with_name(f".tmp-gone-{path.name}-{os.getpid()}")
    try:
        os.rename(path, aside)
    except OSError:
        aside = path
    shutil.rmtree(aside, ignore_errors=True)
