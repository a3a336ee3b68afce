"""Discovery: mentat.yaml read and checked, its sources found, its output tree placed.

`discover` decides which files a compile reads without reading the sources; `input_digests`
hashes all of them for the incremental cache's make-style skip and hands what it read to
`load` (`Discovered`). The output tree's rules (`output_dir`, `output_conflict`) live here
because discovery must skip the output tree and say early when it cannot be written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.load.files import WORKSPACE_FILE, find_sources, policy_files, read_source, resolve_inside
from compiler.load.parse import parse_yaml
from compiler.model.raw import Pos, RawDoc


@dataclass(slots=True)
class LoadResult:
    root: Path
    workspace: RawDoc | None
    docs: list[RawDoc] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # rel path -> sha256 of its bytes
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the source files found, sorted


def discover(root: Path, output: str | None = None) -> LoadResult:
    """Read mentat.yaml and find the source files it names, without reading them."""
    root = root.resolve()
    result = LoadResult(root=root, workspace=None)
    content, err = read_source(root, WORKSPACE_FILE)
    if err or content is None:
        result.diagnostics.append(err or Diagnostic("M108", "mentat.yaml missing"))
        return result
    result.digests[WORKSPACE_FILE] = hashlib.sha256(content).hexdigest()
    docs, diags = parse_yaml(WORKSPACE_FILE, content)
    result.diagnostics += diags
    workspaces = [d for d in docs if d.kind == "Workspace"]
    if diags:
        return result
    if len(workspaces) != 1 or len(docs) != 1:
        result.diagnostics.append(
            Diagnostic(
                "M108",
                f"mentat.yaml must hold exactly one Workspace document (found {len(docs)} "
                f"document(s), {len(workspaces)} Workspace)",
                WORKSPACE_FILE,
                1,
                1,
            )
        )
        return result
    ws = workspaces[0]
    result.workspace = ws
    out = output if output is not None else ws.data.get("spec", {}).get("output", "rendered/")
    skip: set[str] = set()
    if isinstance(out, str) and out:
        # by resolved path: `./rendered`, `rendered/` and `$PWD/rendered` are one directory
        target = (root / out).resolve()
        conflict = output_conflict(root, target, ws.data.get("spec"))
        if conflict is not None:  # said before the sources are read: it explains their absence
            p = ws.pos(("spec", "output")) if output is None else Pos(0, 0)
            result.diagnostics.append(Diagnostic(
                "M701", f"output '{out}' cannot be written: {conflict}",
                ws.file if output is None else "", p.line, p.col,
                hint="choose an output directory of its own, e.g. rendered/"))
        if target != root and root in target.parents:
            skip.add(target.relative_to(root).as_posix())
    result.files, diags = find_sources(root, ws, skip)
    result.diagnostics += diags
    return result


@dataclass(frozen=True, slots=True)
class Discovered:
    """A discovery and the bytes of the files it read (`input_digests`, when the incremental
    cache checks whether anything changed), for `load` to use instead of reading again."""

    found: LoadResult
    contents: dict[str, bytes]
    digests: dict[str, str]  # of the contents


def output_dir(root: Path, rel: Any) -> Path | None:
    """The workspace's `spec.output`, symlinks followed; None unless it is a directory inside
    the workspace (not the workspace itself)."""
    if not isinstance(rel, str):
        return None
    target = resolve_inside(root, rel.rstrip("/") or ".")
    return target if target is not None and target != root else None


_OWNED = (".mentat", ".git")  # the compiler's cache and standby copies; the repository


def output_conflict(root: Path, out: Path, spec: Any, inputs: Iterable[str] = ()) -> str | None:
    """Why the directory `out` cannot be an output tree of the workspace at `root`, or None.
    An output tree is replaced as a whole, so it must share nothing with what the compiler
    reads or owns: not the workspace root or a directory above it, nothing in or around
    `.mentat/` or `.git/`, no source or policy directory of `spec` (the Workspace's spec;
    inside the workspace root as a source is fine, discovery skips the output), and none
    of `inputs`, the workspace-relative files a compile read."""
    root, out = root.resolve(), out.resolve()

    def overlaps(d: Path) -> bool:
        return out == d or d in out.parents or out in d.parents

    if out == root or out in root.parents:
        return "it would hold the whole workspace"
    for name in _OWNED:
        if overlaps(root / name):
            return f"it overlaps {name}/, which mentatctl or git owns"
    spec = spec if isinstance(spec, dict) else {}
    for field_name, what in (("sources", "source"), ("policies", "policy")):
        dirs = spec.get(field_name, ["."] if field_name == "sources" else [])
        for rel in dirs if isinstance(dirs, list) else ():
            d = resolve_inside(root, rel.rstrip("/") or ".") if isinstance(rel, str) else None
            if d is not None and d != root and overlaps(d):
                return f"it overlaps the {what} directory '{rel}'"
    prefix = out.as_posix() + "/"
    for rel in inputs:
        if (root / rel).as_posix().startswith(prefix):
            return f"it holds '{rel}', which the compiler reads"
    return None


def input_digests(root: Path, output: str | None, extra: Iterable[str]
                  ) -> tuple[dict[str, str], Path | None, Discovered] | None:
    """The sha256 of every file a compile of `root` reads (mentat.yaml, the sources it finds,
    the workspace's policy rule files and `extra`, the wasm modules), where its output
    directory resolves now (`output` when given), and what was read (for `load`). None when
    a file cannot be read: only a compile can say why."""
    found = discover(root, output)
    if found.workspace is None or found.diagnostics:
        return None
    spec = found.workspace.data.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    rules = policy_files(found.root, spec.get("policies", []))
    if rules is None:
        return None
    digests = dict(found.digests)
    contents: dict[str, bytes] = {}
    dirs: dict[str, Path] = {}
    for rel in (*found.files, *rules, *extra):
        if rel in digests:  # listed twice (extra names the sources too)
            continue
        content, err = read_source(found.root, rel, dirs)
        if err or content is None:
            return None
        digests[rel] = hashlib.sha256(content).hexdigest()
        contents[rel] = content
    return digests, Path(output) if output is not None else output_dir(
        found.root, spec.get("output")), Discovered(found, contents, digests)
