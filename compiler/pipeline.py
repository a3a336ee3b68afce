"""The compiler's stages in order: load → validate → link → policy → wasm → render →
policy-rendered → check → layout.

Each stage is a function from the values of earlier stages to its own value, with the
diagnostics it found; `compile_workspace` runs them in order through a `_Run`, which collects
the diagnostics, stops when a stage returns nothing (its inputs were unusable) or after
`stop_after`, and skips the stages after render once an error is known, so one run reports
every problem it can find. Memos of the incremental cache arrive as explicit arguments.
Writing is not a stage: tasks/compile.py decides whether to write, diff or print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from compiler import check as check_stage
from compiler.background import Background
from compiler.cache import Memos
from compiler.diagnostics import Diagnostic, has_errors
from compiler.link import link
from compiler.load import LoadResult, load, parse_yaml
from compiler.model import Artifact, K8sObject, Rendered, WasmBundle, Workspace
from compiler.policy import (
    Limits,
    PolicyResult,
    RuleSet,
    check_rendered,
    check_sources,
    load_rules,
)
from compiler.policy import report as policy_report
from compiler.render import RenderInput
from compiler.render.layout import Deferred, Files, Tree, dump_object, dump_yaml, layout
from compiler.render.order import Stream, leaf_stream
from compiler.render.registry import render_all
from compiler.validate import Validated, validate

__all__ = ["POLICY_LIMITS", "STAGES", "CompileResult", "compile_workspace"]

STAGES = ("load", "validate", "link", "policy", "wasm", "render", "policy-rendered", "check",
          "layout")
# Policy findings do not make the model unusable: later stages still run, so one compile
# reports every problem; the compile fails all the same (no files on any error).
_POLICY_FINDINGS = frozenset({"M400", "M402", "M403", "M404"})
POLICY_LIMITS = Limits()  # per (rule, document) evaluation: time and memory
T = TypeVar("T")
Staged = tuple[T | None, list[Diagnostic]]  # a stage's value (None: stop) and diagnostics


@dataclass(frozen=True, slots=True)
class CompileResult:
    root: Path
    workspace: Workspace | None
    files: Files  # the whole output tree, index.json included; empty on errors
    rendered: Rendered | None
    diagnostics: list[Diagnostic]
    policy: PolicyResult = field(default_factory=PolicyResult)  # findings, waivers included
    inputs: dict[str, str] = field(default_factory=dict)  # every file read -> its sha256
    stream: Stream | None = None  # the leaf asked for (`leaf`)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


class _Stop(Exception):
    """The pipeline ends here: a stage returned nothing, or it was the last one asked for."""


class _Run:
    def __init__(self, stop_after: str | None, on_stage: Callable[[str], None] | None) -> None:
        self.stop_after, self.on_stage = stop_after, on_stage
        self.diagnostics: list[Diagnostic] = []
        self.done = False  # the stage asked for last has run

    def __call__(self, name: str, stage: Callable[..., Staged[T]], *args: object,
                 after_errors: bool = True) -> T:
        """Run one stage and return its value. `after_errors=False`: it needs a model without
        errors (policy findings aside), and the pipeline ends before it when there is none."""
        if self.done or (not after_errors and self.blocked):
            raise _Stop
        if self.on_stage:
            self.on_stage(name)
        value, found = stage(*args)
        self.diagnostics += found
        self.done = name == self.stop_after
        if value is None:
            raise _Stop
        return value

    @property
    def blocked(self) -> bool:
        return has_errors(d for d in self.diagnostics if d.code not in _POLICY_FINDINGS)


@dataclass(slots=True)
class _Policy:
    """The policy rules and their evaluations, which run in forked children while this
    process renders, checks and serialises (a thread waits on each)."""

    rules: RuleSet
    sources: Background[PolicyResult]
    rendered: Background[PolicyResult] | None = None
    result: PolicyResult | None = None

    def collect(self) -> tuple[PolicyResult, list[Diagnostic]]:
        """Both phases' outcomes, once."""
        if self.result is not None:
            return self.result, []
        self.result = PolicyResult()
        for future in (self.sources, self.rendered):
            if future is not None:
                self.result.extend(future.result())
        return self.result, list(self.result.diagnostics)


def _load(root: Path, output: str | None, memos: Memos | None) -> Staged[LoadResult]:
    loaded = (load(root, output, memos.parse.wrap(parse_yaml), memos.builds.discovered())
              if memos else load(root, output))
    return loaded, loaded.diagnostics


def _validate(loaded: LoadResult) -> Staged[Validated]:
    validated = validate(loaded)
    return validated, validated.diagnostics


def _link(loaded: LoadResult, v: Validated) -> Staged[Workspace]:
    if v.workspace is None:
        return None, []
    return link(str(loaded.root), v.workspace, v.agents, v.flows, loaded.digests,
                v.broken_agents)


def _policy(root: Path, ws: Workspace, memos: Memos | None, blocked: bool) -> Staged[_Policy]:
    """Rules are compiled once here (and reported even when earlier stages failed); source
    documents are checked in the background while render goes on. Invalid rules are
    reported before any document is evaluated."""
    spec = ws.spec
    rules = load_rules(root, spec.policies, spec.doc.file, spec.doc,
                       memo=memos.units if memos else None)
    if blocked or has_errors(rules.diagnostics):
        return None, list(rules.diagnostics)
    sources = Background(check_sources, ws, rules, POLICY_LIMITS,
                         memos.policy if memos else None, name="policy")
    return _Policy(rules, sources), list(rules.diagnostics)


@dataclass(frozen=True, slots=True)
class _Wasm:
    bundles: dict[str, WasmBundle] = field(default_factory=dict)  # by agent key
    module_digests: dict[str, str] = field(default_factory=dict)  # wasm sources -> sha256


def _wasm(ws: Workspace) -> Staged[_Wasm]:
    if not any(a.runtime == "wasm" for a in ws.agents):
        return _Wasm(), []  # wasmtime is imported only for workspaces that have wasm agents
    from compiler.wasm.stage import build_bundles, module_source_digests

    bundles, diags = build_bundles(ws)
    return _Wasm(bundles, module_source_digests(ws, bundles)), diags


def _render(ws: Workspace, wasm: _Wasm, policy: _Policy | None,
            memos: Memos | None) -> Staged[Rendered]:
    out = render_all(RenderInput(ws=ws, wasm=wasm.bundles, cache=memos.units if memos else None,
                                 rules=policy.rules if policy else None))
    return out, out.diagnostics


def _policy_rendered(ws: Workspace, rendered: Rendered, policy: _Policy,
                     memos: Memos | None) -> Staged[_Policy]:
    """The rendered-phase rules start now; their children evaluate while this process
    checks schemas and serialises."""
    policy.rendered = Background(check_rendered, ws, rendered.objects, policy.rules,
                                 POLICY_LIMITS, memos.policy if memos else None, name="policy")
    return policy, []


def _check(ws: Workspace, rendered: Rendered, memos: Memos | None) -> Staged[Rendered]:
    version = ws.spec.kubernetes_version
    if memos is None:
        found = check_stage.check(rendered.objects, version, check_stage.schema_text)
        return rendered, found
    objects = memos.checks.unchecked(rendered.objects, version)
    found = check_stage.check(objects, version, memos.checks.schemas(check_stage.schema_text))
    if not found:
        memos.checks.passed()
    return rendered, found


def _layout(ws: Workspace, rendered: Rendered, wasm: _Wasm, policy: _Policy,
            memos: Memos | None, leaf: str | None) -> Staged[tuple[Tree | None, Stream | None]]:
    """Every object serialised (the costly part of a cold layout, while the policy
    children evaluate), then the policy outcomes with policy-report.json, then the tree.
    With `leaf`, that leaf's stream first; without the cache, only it (no tree to save)."""
    stream = None
    if leaf is not None:
        stream = leaf_stream(rendered.objects, {e.name for e in ws.spec.environments},
                             leaf or None)
        if memos is None:
            return (None, stream), policy.collect()[1]
    dump: Callable[[K8sObject], bytes | Deferred] = (memos.units.serialise if memos
                                                     else dump_object)
    emitted = {id(o): dump(o) for o in rendered.objects}
    result, found = policy.collect()
    sources = tuple(sorted({f.file for f in result.waivers}))
    artifacts = [*rendered.artifacts,
                 Artifact("policy-report.json", policy_report(policy.rules, result), sources)]
    tree = layout(ws.spec.name, rendered.objects, artifacts,
                  {**ws.source_digests, **wasm.module_digests}, lambda o: emitted[id(o)],
                  memos.units.yaml(dump_yaml) if memos else dump_yaml)
    return (tree, stream), found


def compile_workspace(
    root: Path,
    output: str | None = None,
    *,
    stop_after: str | None = None,
    on_stage: Callable[[str], None] | None = None,
    memos: Memos | None = None,
    leaf: str | None = None,
) -> CompileResult:
    """Run the stages. With `memos` (`Cache(root).memos`), unchanged inputs reuse earlier
    results; the caller saves the cache once the output is written. With `leaf` (an
    ENV/REGION, or "" for a workspace of one), layout also makes that leaf's YAML stream
    (`compile --stdout`), and without `memos` only that."""
    root = root.resolve()
    run = _Run(stop_after, on_stage)
    loaded = workspace = rendered = tree = stream = None
    wasm, policy = _Wasm(), None
    try:
        loaded = run("load", _load, root, output, memos)
        validated = run("validate", _validate, loaded)
        workspace = run("link", _link, loaded, validated)
        policy = run("policy", _policy, root, workspace, memos, run.blocked)
        wasm = run("wasm", _wasm, workspace, after_errors=False)
        rendered = run("render", _render, workspace, wasm, policy, memos, after_errors=False)
        run("policy-rendered", _policy_rendered, workspace, rendered, policy, memos,
            after_errors=False)
        run("check", _check, workspace, rendered, memos, after_errors=False)
        tree, stream = run("layout", _layout, workspace, rendered, wasm, policy, memos,
                           leaf, after_errors=False)
    except _Stop:
        pass
    result = PolicyResult()
    if policy is not None:  # stopped before layout: the outcomes still belong to the result
        result, found = policy.collect()
        run.diagnostics += found
    # a problem found once per environment × region is one problem (units render apart)
    diagnostics = list(dict.fromkeys(run.diagnostics))
    files = tree.files if tree is not None and not has_errors(diagnostics) else Files()
    inputs = {**(loaded.digests if loaded else {}), **wasm.module_digests,
              **(policy.rules.files if policy else {})}
    return CompileResult(root, workspace, files, rendered, diagnostics, result, inputs, stream)
