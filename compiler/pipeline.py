"""The compiler's stages in order, as data: load → validate → link → wasm → render → check →
layout.

Each step reads what earlier steps put into `State` and adds its own result; a step whose
inputs are missing (an earlier stage failed) is skipped, so one run reports every problem it
can find. Writing is not a stage here: the CLI decides whether to write, diff or print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compiler import check as check_stage
from compiler.diagnostics import Diagnostic, has_errors
from compiler.link import link
from compiler.load import LoadResult, load
from compiler.model import Workspace
from compiler.render import Rendered, RenderInput, WasmBundle
from compiler.render.layout import Tree, layout
from compiler.render.registry import RENDERERS
from compiler.validate import Validated, validate
from compiler.wasm import build_bundles
from compiler.wasm.stage import module_source_digests

__all__ = ["STAGES", "CompileResult", "State", "compile_workspace"]


@dataclass(slots=True)
class State:
    root: Path
    output: str | None
    loaded: LoadResult | None = None
    validated: Validated | None = None
    workspace: Workspace | None = None
    bundles: dict[str, WasmBundle] = field(default_factory=dict)  # by agent key
    module_digests: dict[str, str] = field(default_factory=dict)  # wasm sources -> sha256
    rendered: Rendered | None = None
    tree: Tree | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _load(s: State) -> None:
    s.loaded = load(s.root, s.output)
    s.diagnostics += s.loaded.diagnostics


def _validate(s: State) -> None:
    if s.loaded is None:
        return
    s.validated = validate(s.loaded)
    s.diagnostics += s.validated.diagnostics


def _link(s: State) -> None:
    v = s.validated
    if v is None or v.workspace is None or s.loaded is None:
        return
    s.workspace, diags = link(str(s.loaded.root), v.workspace, v.agents, v.flows,
                              s.loaded.digests)
    s.diagnostics += diags


def _wasm(s: State) -> None:
    if s.workspace is None or has_errors(s.diagnostics):
        return
    s.bundles, diags = build_bundles(s.workspace)
    s.module_digests = module_source_digests(s.workspace)
    s.diagnostics += diags


def _render(s: State) -> None:
    if s.workspace is None or has_errors(s.diagnostics):
        return
    out = Rendered()
    inp = RenderInput(ws=s.workspace, wasm=s.bundles)
    for renderer in RENDERERS:
        out.extend(renderer(inp))
    s.rendered = out
    s.diagnostics += out.diagnostics


def _check(s: State) -> None:
    if s.rendered is None or s.workspace is None or has_errors(s.diagnostics):
        return
    version = s.workspace.spec.spec.get("kubernetesVersion", check_stage.DEFAULT_VERSION)
    s.diagnostics += check_stage.check(s.rendered.objects, version)


def _layout(s: State) -> None:
    if s.rendered is None or s.workspace is None or has_errors(s.diagnostics):
        return
    sources = {**s.workspace.source_digests, **s.module_digests}
    s.tree = layout(s.workspace.spec.name, s.rendered.objects, s.rendered.artifacts, sources)


STAGES: tuple[tuple[str, Callable[[State], None]], ...] = (
    ("load", _load),
    ("validate", _validate),
    ("link", _link),
    ("wasm", _wasm),
    ("render", _render),
    ("check", _check),
    ("layout", _layout),
)


@dataclass(frozen=True, slots=True)
class CompileResult:
    root: Path
    workspace: Workspace | None
    files: dict[str, bytes]  # the whole output tree, index.json included; empty on errors
    rendered: Rendered | None
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def compile_workspace(
    root: Path,
    output: str | None = None,
    *,
    stop_after: str | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> CompileResult:
    s = State(root=root.resolve(), output=output)
    for name, step in STAGES:
        if on_stage:
            on_stage(name)
        step(s)
        if name == stop_after:
            break
    files = s.tree.files if s.tree is not None and not has_errors(s.diagnostics) else {}
    return CompileResult(s.root, s.workspace, files, s.rendered, s.diagnostics)
