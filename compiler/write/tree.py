"""The output tree itself: written whole and atomically, or compared (`compile --check`).

The new tree is built in a directory beside the output and swapped in with one atomic
exchange of directory entries (renameat2 RENAME_EXCHANGE on Linux; two renames elsewhere),
so a failed or interrupted compile leaves the previous tree intact and readers never see a
half-written one. `diff_tree` compares instead of writing (`compile --check`).

With a `Standby` (the incremental cache keeps one in `.mentat/standby/`), that directory is
the tree the output held before the last compile, kept instead of deleted: double buffering.
Bringing it up to date writes only the files that differ from it, and the exchange makes the
replaced tree the next standby, so a small change to a 10k-file tree neither links nor
unlinks 10k files.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from stat import S_ISDIR
from typing import Any

try:
    import fcntl
except ImportError:  # no flock (Windows): no standby, every tree is built beside the output
    fcntl = None  # type: ignore[assignment]

import orjson

from compiler.diagnostics import Diagnostic
from compiler.render.layout import INDEX, SIGNATURE_FILES, Files, files_of
from compiler.write.walk import Scan, Stat, scan, stat_key

__all__ = ["Known", "Standby", "TreeDiff", "diff_tree", "foreign", "hold", "read_tree",
           "snapshot", "untouched", "write_tree"]

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass(slots=True)
class TreeDiff:
    added: list[str] = field(default_factory=list)  # in the new tree, not on disk
    removed: list[str] = field(default_factory=list)  # on disk, not in the new tree
    changed: list[str] = field(default_factory=list)
    # on disk and not provably written by mentatctl (see `foreign`): writing is refused
    foreign: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _is_signature(rel: str) -> bool:
    """Only the signature files `sign` writes, by exact name: any other file at the root,
    whatever its suffix, is content (verified, compared, never carried over)."""
    return rel in SIGNATURE_FILES


def read_tree(out: Path) -> dict[str, bytes]:
    """Every file under `out` (signature files excluded), by output-relative POSIX path."""
    files: dict[str, bytes] = {}
    if not out.is_dir():
        return files
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        base = Path(dirpath)
        for name in filenames:
            rel = (base / name).relative_to(out).as_posix()
            if not _is_signature(rel):
                files[rel] = (base / name).read_bytes()
    return files


Known = dict[str, tuple[Stat, str]]  # a tree's files: path -> (stat, sha256)


@dataclass(slots=True)
class Standby:
    """The second buffer of an output tree. `known` is its files as a compile last left them
    (re-checked by stat before any is kept). `write_tree` sets `written` to the snapshot of
    the tree it put in place (no second pass of stat calls needed). `hold` locks it for one
    compile; `scanned` is its walk by a `walk.Prescan` made while it was held."""

    path: Path
    known: Known
    written: Known | None = None
    lock: int | None = None
    scanned: Scan | None = None
    twin: bool = False  # `write_tree` made it as hard links to the tree it wrote (`_twin`)


def diff_tree(out: Path, files: Mapping[str, bytes], known: Known | None = None,
              scanned: Scan | None = None) -> TreeDiff:
    """What writing `files` would change. `known` (from the incremental cache) maps paths to
    the stat and sha256 they had when last written: a file whose stat still matches is
    compared by digest instead of being read (as git's index does). `scanned`: the walk of
    `out` a `walk.Prescan` made."""
    known = known or {}
    files = files_of(files)
    diff = TreeDiff()
    seen: set[str] = set()
    # When index.json is untouched since the snapshot and equal to the new one, the digests
    # it lists are the new files' digests too: an untouched file needs no hashing at all.
    index_same = False
    if INDEX in known and INDEX in files:
        try:
            st = os.stat(out / INDEX)
        except OSError:
            pass
        else:
            index_same = (known[INDEX][0] == stat_key(st)
                          and known[INDEX][1] == files.digest(INDEX))
    base = str(out)
    sizes, digests = files.sizes(), {} if index_same else files.digests()
    entries = scan(out) if scanned is None else scanned
    for rel, key in _files(entries):
        seen.add(rel)
        size = sizes.get(rel)
        if size is None:
            diff.removed.append(rel)
            continue
        prior = known.get(rel)
        if size != key[0]:
            same = False
        elif prior is not None and prior[0] == key:
            same = index_same or prior[1] == digests[rel]
        else:
            with open(os.path.join(base, rel), "rb") as f:
                same = f.read() == files[rel]
        if not same:
            diff.changed.append(rel)
    diff.added = sorted(set(files) - seen)
    diff.removed.sort()  # the walk's order is not the paths' ("a/x" before "a-b/x")
    diff.changed.sort()
    if diff:  # only a tree that is to be written must prove whose it is
        diff.foreign = foreign(out, entries, files, known)
    return diff


MAX_INDEX_BYTES = 256 * 1024 * 1024  # as verify reads it: an index.json larger is not ours
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _index_paths(out: Path) -> set[str] | None:
    """The files the index.json at `out` lists (itself included), or None unless it is an
    index mentatctl writes. Read without following a symlink or blocking on a FIFO."""
    try:
        fd = os.open(out / INDEX, _OPEN_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(MAX_INDEX_BYTES + 1)
        data = orjson.loads(raw) if len(raw) <= MAX_INDEX_BYTES else None
    except (OSError, orjson.JSONDecodeError):
        return None
    finally:
        os.close(fd)
    if not (isinstance(data, dict) and data.get("apiVersion") == "mentatlab.io/v1"
            and data.get("kind") == "Index" and isinstance(data.get("compiler"), dict)
            and data["compiler"].get("name") == "mentatctl"
            and isinstance(data.get("files"), list)):
        return None
    paths = {e.get("path") for e in data["files"] if isinstance(e, dict)}
    return {p for p in paths if isinstance(p, str)} | {INDEX}


def foreign(out: Path, entries: Scan, files: Mapping[str, bytes], known: Known | None = None
            ) -> list[str]:
    """The entries of the tree at `out` (its walk, `entries`) that mentatctl cannot show it
    wrote, sorted: a tree may be replaced only when this is empty. Its own files are those
    the last compile's snapshot (`known`, authenticated by the cache) lists while index.json
    is as that compile left it, else those its index.json lists (an index mentatctl writes);
    its own directories, those holding one of its files or of the new tree's. A signature
    file `sign` wrote is the user's to keep and is carried over, never counted."""
    if not entries:
        return []
    ours: set[str] | None = None
    if known and INDEX in known:
        now = next((key for rel, mode, key in entries if rel == INDEX), None)
        if now is not None and now == known[INDEX][0]:
            ours = set(known)
    if ours is None:
        ours = _index_paths(out) or set()
    dirs: set[str] = set()
    for rel in chain(ours, files):
        d = rel.rpartition("/")[0]
        while d and d not in dirs:
            dirs.add(d)
            d = d.rpartition("/")[0]
    return sorted(rel for rel, mode, _ in entries if not _is_signature(rel)
                  and (rel not in dirs if S_ISDIR(mode) else rel not in ours))


def untouched(out: Path, known: Known) -> bool:
    """Whether the tree under `out` holds exactly the files of the snapshot `known`, each
    with the stat it had then (so with the content the snapshot hashed)."""
    found = _files(scan(out))
    return len(found) == len(known) and all(
        (prior := known.get(rel)) is not None and prior[0] == key for rel, key in found)


def _files(entries: Scan) -> list[tuple[str, Stat]]:
    """The output files of a walk: no directories, no signature files."""
    return [(rel, key) for rel, mode, key in entries
            if not S_ISDIR(mode) and not _is_signature(rel)]


def snapshot(out: Path, paths: Iterable[str]) -> dict[str, Stat]:
    """The stat of each of `paths` under `out` now (for a later `diff_tree(known=...)`)."""
    snap: dict[str, Stat] = {}
    base = str(out)
    for rel in paths:
        try:
            snap[rel] = stat_key(os.stat(os.path.join(base, rel)))
        except OSError:
            continue
    return snap


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries; False where the platform cannot."""
    fn = _renameat2()
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


@functools.cache
def _renameat2() -> Any:
    """libc's renameat2 from the symbols this process already has (ctypes.util.find_library
    would run ldconfig on every write: 1.5-3.5 ms), or None."""
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except (OSError, TypeError):  # no dlopen(NULL): Windows
        return None


def write_tree(out: Path, files: Mapping[str, bytes], diff: TreeDiff | None = None,
               standby: Standby | None = None) -> list[Diagnostic]:
    """Replace `out` with exactly `files`. Signature files survive only when index.json is
    byte-identical (they sign exactly that index). With a `standby`, only the files that
    differ from it are written, and the replaced tree becomes the standby. Without one,
    files that `diff` (of `files` against `out`) does not list as changed or added are
    hard-linked from the current tree into the new one instead of written again."""
    out = out.absolute()
    files = files_of(files)
    rel_out = out.name
    if out.exists() and not out.is_dir():
        return [Diagnostic("M701", f"output {out} exists and is not a directory")]
    if out.is_dir():
        unknown = diff.foreign if diff is not None else foreign(out, scan(out), files)
        if unknown:
            return [_refusal(out, unknown)]
    parent = out.parent
    tmp = parent / f".{rel_out}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with _standby_for(out, standby) as sb:
            if sb is not None and out.is_dir() and _via_standby(out, files, sb):
                return []
            _clean_stale(parent, rel_out)
            tmp.mkdir()
            # With a standby nothing is hard-linked: the replaced tree then shares no file
            # (no inode whose ctime an unlink would change) with the new one, and is kept.
            written = _fill(out, tmp, files, diff if sb is None else None)
            _copy_signatures(out, tmp, files)
            if out.exists():
                _swap(tmp, out)  # tmp now holds the replaced tree
                _retire(tmp, sb)
            else:
                if sb is not None:  # it was the copy of a tree that is gone
                    shutil.rmtree(sb.path, ignore_errors=True)
                    written = _twin(tmp, sb, files) or written
                os.rename(tmp, out)
            if sb is not None:
                sb.written = written
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return [Diagnostic("M701", f"cannot write {out}: {e.strerror or e}")]
    except BaseException:  # interrupted: the output is as it was, nothing is left beside it
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return []


def _refusal(out: Path, unknown: list[str]) -> Diagnostic:
    """Nothing mentatctl did not write is ever replaced: the tree is left as it is."""
    if _index_paths(out) is None:
        why = f"it is not empty and has no {INDEX} written by mentatctl"
    else:
        why = f"it holds {len(unknown)} entr{'y' if len(unknown) == 1 else 'ies'} its {INDEX} does not list"
    shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    return Diagnostic("M701", f"refusing to replace {out}: {why} ({shown}), so mentatctl did "
                      "not write it all", hint="move those files elsewhere, or choose another "
                      "output directory; mentatctl replaces only a tree it wrote")


def _swap(new: Path, out: Path) -> None:
    """Put `new` in place of `out`, leaving the replaced tree at `new` (or nowhere, when
    only that last step fails: the new tree is in place by then)."""
    if not _exchange(new, out):
        old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"  # see _clean_stale
        os.rename(out, old)
        os.rename(new, out)
        try:
            os.rename(old, new)
        except OSError:
            shutil.rmtree(old, ignore_errors=True)


def _retire(replaced: Path, sb: Standby | None) -> None:
    """The tree a swap replaced becomes the standby, or goes. The new tree is in place by
    now: a failure here costs the standby copy, not the compile."""
    if sb is not None:
        shutil.rmtree(sb.path, ignore_errors=True)
        with suppress(OSError):
            os.rename(replaced, sb.path)
            return
    shutil.rmtree(replaced, ignore_errors=True)


def _copy_signatures(out: Path, new: Path, files: Mapping[str, bytes]) -> None:
    old_index = out / INDEX
    if old_index.is_file() and old_index.read_bytes() == files.get(INDEX):
        for name in SIGNATURE_FILES:
            sig = out / name
            if sig.is_file() and not sig.is_symlink():
                shutil.copy2(sig, new / name)


def hold(out: Path, standby: Standby) -> bool:
    """Lock the standby for this process until `write_tree` is done with it: whether it can
    be exchanged with `out` (a real directory on the same filesystem) and no other compile
    holds it."""
    if standby.lock is None:
        standby.lock = _lock(out, standby)
    return standby.lock is not None


@contextmanager
def _standby_for(out: Path, standby: Standby | None) -> Iterator[Standby | None]:
    """The standby, held (`hold`), or None when it cannot be used."""
    if standby is None or not hold(out, standby):
        yield None
        return
    try:
        yield standby
    finally:
        assert standby.lock is not None
        os.close(standby.lock)
        standby.lock = None


def _lock(out: Path, standby: Standby) -> int | None:
    if fcntl is None:
        return None
    home = standby.path.parent
    try:
        home.mkdir(parents=True, exist_ok=True)
        st = os.lstat(home)
        if not stat.S_ISDIR(st.st_mode) or st.st_dev != os.stat(out.parent).st_dev:
            return None
        fd = os.open(home / f"{standby.path.name}.lock",
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.islink(standby.path) or (os.path.lexists(standby.path)
                                            and not os.path.isdir(standby.path)):
            os.unlink(standby.path)  # a symlink or file where the tree should be
    except OSError:  # a concurrent compile holds it: build beside the output instead
        os.close(fd)
        return None
    return fd


def _via_standby(out: Path, files: Files, sb: Standby) -> bool:
    """Bring the standby to exactly `files` and exchange it with `out`; False (the standby
    removed) when there is none or it cannot be brought up to date."""
    if not os.path.isdir(sb.path) or os.path.islink(sb.path):
        return False
    try:
        written = _refresh(sb, files)
        _copy_signatures(out, sb.path, files)
    except OSError:
        shutil.rmtree(sb.path, ignore_errors=True)
        return False
    _swap(sb.path, out)
    sb.written = written
    return True


def _refresh(sb: Standby, files: Files) -> Known:
    """Make the standby hold exactly `files`: a file whose stat and digest match what the
    last compile left is kept, any other entry removed, the rest written. Returns the
    snapshot of the result."""
    keep: Known = {}
    dirs: list[str] = []
    base = str(sb.path)
    digests = files.digests()
    for rel, mode, key in scan(sb.path) if sb.scanned is None else sb.scanned:
        if S_ISDIR(mode):
            dirs.append(os.path.join(base, rel))
            continue
        prior = sb.known.get(rel)
        if (prior is not None and prior[0] == key and stat.S_ISREG(mode)
                and prior[1] == digests.get(rel)):
            keep[rel] = prior
        else:
            os.unlink(os.path.join(base, rel))
    for d in sorted(dirs, reverse=True):  # emptied directories go, children first
        with suppress(OSError):  # not empty
            os.rmdir(d)
    written = dict(keep)
    made: set[str] = {""}
    for rel in files:
        if rel in keep:
            continue
        _parent(base, rel, made)
        st = _write(os.path.join(base, rel), files[rel])
        written[rel] = (stat_key(st), digests[rel])
    return written


def _twin(tmp: Path, sb: Standby, files: Files) -> Known | None:
    """Make the standby of a tree written from nothing (a cold compile) as hard links to it,
    so that the first recompile finds its second buffer ready instead of writing every file
    (at 10k files: ~0.4 s moved off the first edit, ~0.05 s added to the cold compile).
    The two trees share inodes until a refresh replaces a file; a link changes the inode's
    ctime, so the snapshot (of both trees: the same inodes) is taken after linking. None,
    and no standby, when the filesystem has no hard links."""
    base, twin = str(tmp), str(sb.path)
    known: Known = {}
    made: set[str] = {""}
    try:
        os.makedirs(twin)
        for rel in files:
            _parent(twin, rel, made)
            os.link(os.path.join(base, rel), os.path.join(twin, rel))
            known[rel] = (stat_key(os.lstat(os.path.join(base, rel))), files.digest(rel))
    except OSError:
        shutil.rmtree(twin, ignore_errors=True)
        return None
    sb.twin = True
    return known


def _fill(out: Path, tmp: Path, files: Files, diff: TreeDiff | None) -> Known | None:
    """Write `files` into `tmp`, one after another; their snapshot, unless some were linked
    (a link changes the linked file's ctime). Writer threads were measured to multiply
    the kernel's time for creating files (ext4: 10k files 1.3 s of system CPU from one
    thread, 3 s from four) for no gain in wall time."""
    fresh = set(diff.changed) | set(diff.added) if diff is not None else None
    base, new_base = str(out), str(tmp)
    made: set[str] = {""}
    written: Known | None = {}
    for rel in files:
        _parent(new_base, rel, made)
        target = os.path.join(new_base, rel)
        if fresh is not None and rel not in fresh:
            try:
                os.link(os.path.join(base, rel), target)
                written = None
                continue
            except OSError:
                pass  # no hard links here (or the file vanished): write it
        st = _write(target, files[rel])
        if written is not None:
            written[rel] = (stat_key(st), files.digest(rel))
    return written


def _parent(base: str, rel: str, made: set[str]) -> None:
    """Make `rel`'s directory under `base` unless `made` says it exists (start it as {""})."""
    d = os.path.dirname(rel)
    if d not in made:
        os.makedirs(os.path.join(base, d), exist_ok=True)
        made.add(d)


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _write(path: str, content: bytes) -> os.stat_result:
    """A new file, and its stat once written: four system calls (a Python file object adds
    an isatty ioctl, an lseek and a fstat to each of 10k files)."""
    fd = os.open(path, _CREATE, 0o666)  # less the umask, as open() does
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        return os.fstat(fd)
    finally:
        os.close(fd)


def _clean_stale(parent: Path, name: str) -> None:
    """Remove temporary trees that an interrupted compile left behind: only names exactly
    of the form this module gives them (`.NAME.tmp-PID-HEX`, `.NAME.old-HEX`), never a
    user's `.rendered.tmp-notes`."""
    made = re.compile(rf"\.{re.escape(name)}\.(?:tmp-(\d+)|old)-[0-9a-f]+")
    for stale in parent.glob(f".{name}.*"):
        m = made.fullmatch(stale.name)
        if m is None or (m[1] is not None and _alive(int(m[1]))):
            continue
        shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
