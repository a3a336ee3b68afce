"""Stage 7, write: the only code that touches the output tree.

The new tree is built in a temporary directory beside the output and swapped in with one
atomic exchange of directory entries (renameat2 RENAME_EXCHANGE on Linux; two renames
elsewhere), so a failed or interrupted compile leaves the previous tree intact and readers
never see a half-written one. `diff_tree` compares instead of writing (`compile --check`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from compiler.diagnostics import Diagnostic
from compiler.render.layout import INDEX, SIGNATURE_SUFFIX

__all__ = ["TreeDiff", "diff_tree", "read_tree", "write_tree"]

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass(slots=True)
class TreeDiff:
    added: list[str] = field(default_factory=list)  # in the new tree, not on disk
    removed: list[str] = field(default_factory=list)  # on disk, not in the new tree
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _is_signature(rel: str) -> bool:
    return "/" not in rel and rel.endswith(SIGNATURE_SUFFIX)


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


def diff_tree(out: Path, files: dict[str, bytes]) -> TreeDiff:
    on_disk = read_tree(out)
    return TreeDiff(
        added=sorted(set(files) - set(on_disk)),
        removed=sorted(set(on_disk) - set(files)),
        changed=sorted(p for p in files.keys() & on_disk.keys() if files[p] != on_disk[p]),
    )


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries; False where the platform cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    rc = fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def write_tree(out: Path, files: dict[str, bytes]) -> list[Diagnostic]:
    """Replace `out` with exactly `files`. Signature files survive only when index.json is
    byte-identical (they sign exactly that index)."""
    out = out.absolute()
    rel_out = out.name
    if out.exists() and not out.is_dir():
        return [Diagnostic("M701", f"output {out} exists and is not a directory")]
    if out.is_dir() and any(out.iterdir()) and not (out / INDEX).is_file():
        return [Diagnostic("M701", f"refusing to replace {out}: it is not empty and has no "
                           f"{INDEX}, so mentatctl did not write it",
                           hint="choose another --out or empty the directory")]
    parent = out.parent
    tmp = parent / f".{rel_out}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _clean_stale(parent, rel_out)
        tmp.mkdir()
        made: set[Path] = {tmp}
        for rel, content in files.items():
            path = tmp / rel
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            path.write_bytes(content)
        old_index = out / INDEX
        if old_index.is_file() and old_index.read_bytes() == files.get(INDEX):
            for sig in out.glob(f"*{SIGNATURE_SUFFIX}"):
                shutil.copy2(sig, tmp / sig.name)
        if out.exists():
            if not _exchange(tmp, out):
                old = parent / f".{rel_out}.old-{secrets.token_hex(4)}"
                os.rename(out, old)
                os.rename(tmp, out)
                tmp = old
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return [Diagnostic("M701", f"cannot write {out}: {e.strerror or e}")]
    return []


def _clean_stale(parent: Path, name: str) -> None:
    """Remove temporary trees that an interrupted compile left behind."""
    for stale in parent.glob(f".{name}.tmp-*"):
        pid = stale.name.split("-")[-2] if stale.name.count("-") >= 2 else ""
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(stale, ignore_errors=True)
    for stale in parent.glob(f".{name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
