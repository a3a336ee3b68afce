"""`mentatctl diff` as named steps: locate the repository → resolve both refs → compile each
commit → compare → report. The working tree, the index and the checkout are never touched
(nor read as a commit's content unless they are exactly that commit).

Each commit is had the cheapest way that is sure to give what compiling it would:
1. the commit is HEAD and the workspace's files in the working tree are exactly its files
   (`gitsrc.worktree_is`, and the compile read no file git ignores): the workspace itself,
   with its cache. When nothing changed since its last `compile` (the cache's replay), that
   output tree is the side (`tree.tree_side`) and nothing is compiled: CI compiles the
   checked-out head before the diff (`compile --check`), as an author does before pushing;
2. the commit kept under `.mentat/diff/` by earlier diffs (`kept`), its output tree
   replayed the same way: a pull request's base, from its third diff on;
3. the commit's files (kept, checked against git) compiled with the workspace's incremental
   cache; from its second diff on, the output tree is written there for the next;
4. without the cache (`--no-cache`): a temporary copy, compiled from scratch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.cache import Cache
from compiler.diagnostics import Diagnostic
from compiler.diff.compare import DiffReport, Side, compare, finding_keys
from compiler.diff.gitsrc import GitError, Repo, export, locate, resolve, worktree_is
from compiler.diff.kept import Kept, checkout, kept, linked
from compiler.diff.tree import KUSTOMIZATION, TreeChanged, tree_side
from compiler.digest import sha256_hex
from compiler.load import WORKSPACE_FILE
from compiler.render.layout import INDEX, object_path

if TYPE_CHECKING:
    from compiler.pipeline import CompileResult

__all__ = ["DiffError", "run_diff"]

Listings = dict[str, list[str]]  # kustomization digest -> the objects it lists (tree_side)


@dataclass(slots=True)
class DiffError(Exception):
    """A ref that names no commit, or a commit that does not compile: the message names it."""

    message: str
    diagnostics: tuple[Diagnostic, ...] = ()

    def __str__(self) -> str:
        return self.message


def _compile(root: Path, cache: Cache | None, output: Path | None = None) -> CompileResult:
    from compiler.pipeline import compile_workspace

    out = str(output) if output is not None else None
    return compile_workspace(root, out, memos=cache.memos if cache is not None else None)


def _compiled(named: str, result: CompileResult, ref: str, commit: str, parsed: Listings
              ) -> tuple[Side, str]:
    """The compiled side; `parsed` learns what its kustomizations list."""
    if not result.ok or result.workspace is None or result.rendered is None:
        errors = sum(1 for d in result.diagnostics if d.severity == "error")
        raise DiffError(f"{named} does not compile ({errors} error(s))",
                        tuple(result.diagnostics))
    objects = {object_path(o): (o.dir, o.kind, o.name) for o in result.rendered.objects}
    names: Listings = {}
    for path in objects:
        d, _, name = path.rpartition("/")
        names.setdefault(d, []).append(name)
    for d, listed in names.items():
        parsed.setdefault(result.files.digest(f"{d}/{KUSTOMIZATION}"), listed)
    side = Side(ref, commit, result.files, objects, finding_keys(result.policy.findings),
                sha256_hex(result.files[INDEX]))
    return side, result.workspace.spec.name


def _replayed(cache: Cache, output: Path | None, ref: str, commit: str, parsed: Listings,
              read: frozenset[str] | None = None) -> tuple[Side, str] | None:
    """The output tree of the last compile of the cache's workspace into `output` (None:
    its spec.output), when nothing it read has changed since (and, with `read`, it read only
    those files)."""
    replay = cache.replay(str(output) if output is not None else None)
    found = cache.memos.builds.discovered() if replay is not None else None
    if replay is None or found is None or (read is not None and not found.digests.keys() <= read):
        return None
    return tree_side(Path(replay.output), ref, commit, parsed)


def _from_worktree(repo: Repo, root: Path, named: str, ref: str, commit: str,
                   parsed: Listings) -> tuple[Side, str] | None:
    """The side compiled in the working tree, when it is exactly `commit` (None if not)."""
    try:
        tracked = worktree_is(repo, commit)
    except GitError:
        return None
    if tracked is None:
        return None
    opened = Cache(root)
    cache = None if opened.disabled else opened
    side = _replayed(cache, None, ref, commit, parsed, tracked) if cache is not None else None
    if side is not None:
        return side
    result = _compile(root, cache)
    if not result.inputs.keys() <= tracked:
        return None  # it read a file git ignores: not the commit's compile
    side = _compiled(named, result, ref, commit, parsed)
    if cache is not None and result.workspace is not None:
        cache.save(result.workspace.source_digests, written=False)
    return side


def _keep(cache: Cache, k: Kept, result: CompileResult) -> None:
    """Write the output tree next to the commit's files and record it, as `compile` does
    (its delivery chain), for later diffs to replay."""
    from compiler.tasks.compile import CompileOptions, deliver

    deliver(k.root, result, CompileOptions(out=str(k.out)), cache)


def _from_kept(repo: Repo, workspace: Path, named: str, ref: str, commit: str,
               parsed: Listings) -> tuple[Side, str] | None:
    """The side of a commit kept under `.mentat/diff/`; None when it cannot be kept there
    (the cache is off, the disk read-only)."""
    k = kept(repo, commit, workspace)
    if k is None:
        return None
    cache = Cache(k.root, workspace)
    if cache.disabled:
        return None
    if not linked(k) and k.root.is_dir():
        side = _replayed(cache, k.out, ref, commit, parsed)
        if side is not None:
            with contextlib.suppress(OSError):
                os.utime(k.dir)  # recently used: evicted last
            return side
        cache = Cache(k.root, workspace)  # a fresh view for the compile
    try:
        k, again = checkout(repo, commit, workspace)
    except OSError:
        return None
    _has_workspace(repo, named, k.root)
    result = _compile(k.root, cache, k.out)
    side = _compiled(named, result, ref, commit, parsed)
    if not again:  # diffed once so far: maybe the only time (a CI job)
        if result.workspace is not None:
            cache.save(result.workspace.source_digests, written=False)
        return side
    with contextlib.suppress(OSError):  # a full disk only costs the next diff's speed
        _keep(cache, k, result)
    return side


def _has_workspace(repo: Repo, named: str, root: Path) -> None:
    if not (root / WORKSPACE_FILE).is_file():
        where = repo.prefix or "the repository's top directory"
        raise DiffError(f"{named} has no {WORKSPACE_FILE} in {where}")


def _side(repo: Repo, label: str, ref: str, workspace: Path | None, parsed: Listings
          ) -> tuple[Side, str]:
    try:
        commit = resolve(repo, ref)
    except GitError as exc:
        raise DiffError(f"{label} ref {exc}") from None
    named = f"{label} ref '{ref}' (commit {commit[:12]})"
    try:
        if workspace is not None:
            side = (_from_worktree(repo, workspace, named, ref, commit, parsed)
                    or _from_kept(repo, workspace, named, ref, commit, parsed))
            if side is not None:
                return side
        with tempfile.TemporaryDirectory(prefix="mentat-diff-") as tmp:
            root = export(repo, commit, Path(tmp))
            _has_workspace(repo, named, root)
            cache = Cache(root, workspace) if workspace is not None else None
            result = _compile(root, cache)
            side = _compiled(named, result, ref, commit, parsed)
            if cache is not None and result.workspace is not None:
                cache.save(result.workspace.source_digests, written=False)
            return side
    except GitError as exc:
        raise DiffError(f"{named}: cannot read it from git: {exc}") from None


def run_diff(root: Path, base: str, head: str, *, use_cache: bool = True) -> DiffReport:
    """Compile `base` and `head` of the repository holding the workspace `root` and compare
    them. Raises DiffError naming the ref at fault."""
    try:
        repo = locate(root)
    except GitError as exc:
        raise DiffError(str(exc)) from None
    shared = root if use_cache else None
    parsed: Listings = {}
    try:
        b, _ = _side(repo, "base", base, shared, parsed)
        h, name = _side(repo, "head", head, shared, parsed)
        return compare(name, b, h)
    except TreeChanged:  # a file of an output tree changed while it was read
        return run_diff(root, base, head, use_cache=False)
