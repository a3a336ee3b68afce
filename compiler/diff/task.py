"""`mentatctl diff` as named steps: locate the repository → resolve both refs → export and
compile each commit in a temporary directory (the workspace's incremental cache shared) →
compare → report. The working tree, the index and the checkout are never touched.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from compiler.cache import Cache
from compiler.diagnostics import Diagnostic
from compiler.diff.compare import DiffReport, Side, compare, finding_keys
from compiler.diff.gitsrc import GitError, Repo, export, locate, resolve
from compiler.load import WORKSPACE_FILE
from compiler.render.layout import INDEX, object_path
from compiler.sign.statement import parse_index

__all__ = ["DiffError", "run_diff"]


@dataclass(slots=True)
class DiffError(Exception):
    """A ref that names no commit, or a commit that does not compile: the message names it."""

    message: str
    diagnostics: tuple[Diagnostic, ...] = ()

    def __str__(self) -> str:
        return self.message


def _side(repo: Repo, label: str, ref: str, shared: Path | None) -> tuple[Side, str]:
    from compiler.pipeline import compile_workspace

    try:
        commit = resolve(repo, ref)
    except GitError as exc:
        raise DiffError(f"{label} ref {exc}") from None
    named = f"{label} ref '{ref}' (commit {commit[:12]})"
    with tempfile.TemporaryDirectory(prefix="mentat-diff-") as tmp:
        try:
            root = export(repo, commit, Path(tmp))
        except GitError as exc:
            raise DiffError(f"{named}: cannot read it from git: {exc}") from None
        if not (root / WORKSPACE_FILE).is_file():
            where = repo.prefix or "the repository's top directory"
            raise DiffError(f"{named} has no {WORKSPACE_FILE} in {where}")
        cache = Cache(root, shared) if shared is not None else None
        result = compile_workspace(root, memos=cache.memos if cache else None)
        if not result.ok or result.workspace is None or result.rendered is None:
            errors = sum(1 for d in result.diagnostics if d.severity == "error")
            raise DiffError(f"{named} does not compile ({errors} error(s))",
                            tuple(result.diagnostics))
        if cache is not None:
            cache.save(result.workspace.source_digests, written=False)
        objects = {object_path(o): (o.dir, o.kind, o.name) for o in result.rendered.objects}
        digest = parse_index(result.files[INDEX]).sha256
        side = Side(ref, commit, result.files, objects, finding_keys(result.policy.findings),
                    digest)
        return side, result.workspace.spec.name


def run_diff(root: Path, base: str, head: str, *, use_cache: bool = True) -> DiffReport:
    """Compile `base` and `head` of the repository holding the workspace `root` and compare
    them. Raises DiffError naming the ref at fault."""
    try:
        repo = locate(root)
    except GitError as exc:
        raise DiffError(str(exc)) from None
    shared = root if use_cache else None
    b, _ = _side(repo, "base", base, shared)
    h, name = _side(repo, "head", head, shared)
    return compare(name, b, h)
