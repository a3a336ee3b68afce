"""Stat walks of output trees. Kept to the standard library: a helper process runs them
(`Prescan`) while the compile goes on, and must start in milliseconds."""

from __future__ import annotations

import marshal
import os
import stat
import sys
import tempfile
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

__all__ = ["Prescan", "Scan", "Stat", "scan", "stat_key"]

Stat = tuple[int, int, int, int]  # (size, mtime_ns, ctime_ns, inode), as stat_key gives
Scan = list[tuple[str, int, Stat]]  # output-relative path, st_mode, stat_key: from lstat


def stat_key(st: os.stat_result) -> Stat:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def scan(out: Path) -> Scan:
    """Every entry under `out`, directories before what they hold, with its lstat (a
    symlink is itself, not what it points to)."""
    found: Scan = []

    def walk(d: str, prefix: str) -> None:
        with os.scandir(d) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                found.append((prefix + e.name, st.st_mode, stat_key(st)))
                if stat.S_ISDIR(st.st_mode):
                    walk(e.path, prefix + e.name + "/")

    if out.is_dir():
        walk(str(out), "")
    return found


# The helper: `python -I -S -B -c` with this module's directory as argv[1], imported as a
# top-level module (the package's __init__ would import libraries -S cannot see). Isolated
# (-I): `-c` would put the working directory, a repository being compiled, first on
# sys.path, where a `tempfile.py` in it would run in place of the standard one.
_HELPER = ("import sys; sys.path.insert(0, sys.argv[1]); "
           "from walk import _helper; _helper(sys.argv[2:])")


def _helper(paths: list[str]) -> None:
    sys.stdout.buffer.write(marshal.dumps({p: scan(Path(p)) for p in paths}, 4))
    sys.stdout.buffer.flush()


class Prescan:
    """Walks of output trees made by a helper process while the compile runs: at 10k files
    each is ~35 ms of system calls off the critical path on a second core. A process of its
    own, started with posix_spawn, rather than a fork: a forked child made the compile pay
    for copying every page it wrote to while the child lived. The walks describe the trees
    as they were then (a standby is walked only while it is held, so its walk stays true)."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self._walks: dict[str, Scan] | None = None
        self._done: Callable[[], dict[str, Scan] | None] | None = None
        here = str(Path(__file__).resolve().parent)
        out: IO[bytes] | None = None
        try:
            out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by _collect)
            pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", "-B", "-c", _HELPER, here,
                 *map(str, paths)],
                dict(os.environ),
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                              (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
        except (OSError, ValueError, AttributeError):  # no temp file, posix_spawn or python
            if out is not None:
                out.close()
            return  # walking inline costs only speed
        # collected when asked for, or when this is dropped unasked (no zombie, no open file)
        self._done = weakref.finalize(self, _collect, out, pid)

    def walk(self, path: Path) -> Scan | None:
        """The walk of `path`, or None (not asked for, or the helper failed)."""
        if self._done is not None:
            self._walks, self._done = self._done(), None
        return self._walks.get(str(path)) if self._walks is not None else None


def _collect(out: IO[bytes], pid: int) -> dict[str, Scan] | None:
    try:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return None
        out.seek(0)
        walks = marshal.loads(out.read())  # marshal.load reads a file a few bytes at a time
        return walks if type(walks) is dict else None
    except (OSError, EOFError, ValueError, TypeError):
        return None
    finally:
        out.close()
