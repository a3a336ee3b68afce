"""Files of the workspace: where it is, reading inside it safely, and which files are sources.

Every path a workspace names goes through `resolve_inside`, so a symlink or `..` never lets
a compile read outside the workspace; `read_source` also refuses non-files and oversized
files unread. Apart from discovery's decisions (which workspace, which output tree) because
other stages read workspace files the same way: the policy rules, the wasm modules.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.load.parse import MAX_FILE_BYTES, _file_too_large
from compiler.model.raw import RawDoc

WORKSPACE_FILE = "mentat.yaml"


def find_workspace_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding mentat.yaml (like git finds .git)."""
    start = start.resolve()
    for d in (start, *start.parents):
        if (d / WORKSPACE_FILE).is_file():
            return d
    return None


def resolve_inside(root: Path, rel: str, dirs: dict[str, Path] | None = None) -> Path | None:
    """`root/rel` with symlinks resolved, or None when it lies outside `root` (resolved).
    `dirs` memoises resolved directories over one pass of many files: a file that is no
    symlink then costs one lstat instead of one per path component."""
    if not rel or os.path.isabs(rel) or rel.startswith("~"):
        return None
    head, name = os.path.split(rel)
    if dirs is None or name in ("", ".", ".."):
        target = (root / rel).resolve()
    else:
        parent = dirs.get(head)
        if parent is None:
            parent = dirs[head] = (root / head).resolve()
        target = parent / name
        if os.path.islink(target):
            target = target.resolve()
    return target if target == root or root in target.parents else None


def read_source(root: Path, rel: str, dirs: dict[str, Path] | None = None
                ) -> tuple[bytes | None, Diagnostic | None]:
    """Read one workspace file, refusing escapes, non-files and oversized files unread.
    (`dirs`: as for `resolve_inside`.)"""
    path = resolve_inside(root, rel, dirs)
    if path is None:
        return None, Diagnostic("M107", "path resolves outside the workspace", rel)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None, Diagnostic("M100", "not a regular file", rel)
        if st.st_size > MAX_FILE_BYTES:
            return None, _file_too_large(rel, st.st_size)
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as e:
        return None, Diagnostic("M100", f"cannot read: {e.strerror}", rel)


def find_sources(
    root: Path, ws: RawDoc, skip: set[str]
) -> tuple[list[str], list[Diagnostic]]:
    """Every *.yaml / *.yml under the workspace's `spec.sources`, sorted, relative to root.

    Symlinks are followed only while they stay inside the workspace; one that points out is
    reported, not read. Hidden directories and `skip` (the output tree) are not scanned.
    """
    diags: list[Diagnostic] = []
    found: set[str] = set()
    spec = ws.data.get("spec") if isinstance(ws.data.get("spec"), dict) else {}
    sources = spec.get("sources", ["."])
    if not isinstance(sources, list):
        return [], []  # validate reports the type error
    for i, src in enumerate(sources):
        if not isinstance(src, str):
            continue
        base = resolve_inside(root, src)
        if base is None:
            p = ws.pos(("spec", "sources", i))
            diags.append(
                Diagnostic("M107", f"source '{src}' is outside the workspace", ws.file, p.line, p.col)
            )
            continue
        if not base.is_dir():
            p = ws.pos(("spec", "sources", i))
            diags.append(
                Diagnostic("M100", f"source directory '{src}' does not exist", ws.file, p.line, p.col)
            )
            continue
        _walk(root, base, skip, found, diags, set())
    found.discard(WORKSPACE_FILE)
    return sorted(found), diags


def _walk(
    root: Path, d: Path, skip: set[str], found: set[str], diags: list[Diagnostic], visited: set[Path]
) -> None:
    real = d.resolve()
    if real in visited or any(real == root / s for s in skip):
        return  # seen already, or the output tree (`skip` is resolved) reached via a symlink
    visited.add(real)
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError as e:
        diags.append(Diagnostic("M100", f"cannot list directory: {e.strerror}", _rel(root, d)))
        return
    for entry in entries:
        path = Path(entry.path)
        rel = _rel(root, path)
        if entry.name.startswith(".") or rel in skip:
            continue
        if not _utf8(entry.name):  # POSIX names are bytes; diagnostics, keys, JSON are text
            if entry.name.endswith((".yaml", ".yml")) or entry.is_dir():
                shown = rel.encode("utf-8", "backslashreplace").decode("utf-8")
                diags.append(Diagnostic("M101", "file name is not valid UTF-8: rename it",
                                        shown))
            continue
        if entry.is_symlink():
            target = resolve_inside(root, rel)
            if target is None:
                if entry.name.endswith((".yaml", ".yml")) or path.is_dir():
                    diags.append(Diagnostic("M107", "symlink points outside the workspace", rel))
                continue
            if target.is_dir():
                _walk(root, path, skip, found, diags, visited)
                continue
        if entry.is_dir(follow_symlinks=True):
            _walk(root, path, skip, found, diags, visited)
        elif entry.name.endswith((".yaml", ".yml")):
            found.add(rel)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates by os.fsdecode
        return False
    return True


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else "."


_FIXTURE = re.compile(r"\.(pass|fail)\.ya?ml$")


def is_fixture(name: str) -> bool:
    """A policy rule's test document (`*.pass.yaml`, `*.fail.yaml`), not a rule file."""
    return bool(_FIXTURE.search(name))


def rule_files(base: Path) -> list[Path]:
    """Policy rule files: *.yaml / *.yml under `base`, fixtures and hidden entries left
    out, sorted."""
    found = []
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base)
        if any(part.startswith(".") for part in rel.parts) or "tests" in rel.parts[:-1]:
            continue
        if p.suffix in (".yaml", ".yml") and p.is_file() and not is_fixture(p.name):
            found.append(p)
    return found


def policy_files(root: Path, policies: Any) -> list[str] | None:
    """The rule files of the workspace's `spec.policies` directories, relative to `root`;
    None when a directory is outside the workspace or missing (the policy stage reports it)."""
    found: list[str] = []
    for rel in policies if isinstance(policies, list) else ():
        target = resolve_inside(root, rel) if isinstance(rel, str) else None
        if target is None or not target.is_dir():
            return None
        found += [p.relative_to(root).as_posix() for p in rule_files(target)]
    return found
