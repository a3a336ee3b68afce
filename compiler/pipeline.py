"""The compiler's stages in order, as data: load → validate → link → policy → wasm → render →
policy-rendered → check → layout.

Each step reads what earlier steps put into `State` and adds its own result; a step whose
inputs are missing (an earlier stage failed) is skipped, so one run reports every problem it
can find. Writing is not a stage here: the CLI decides whether to write, diff or print.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from compiler import check as check_stage
from compiler.cache import Cache
from compiler.diagnostics import Diagnostic, has_errors
from compiler.link import link
from compiler.load import LoadResult, load, parse_yaml
from compiler.model import Workspace
from compiler.policy import (
    Limits,
    PolicyResult,
    RuleSet,
    check_rendered,
    check_sources,
    load_rules,
)
from compiler.policy import report as policy_report
from compiler.render import Artifact, Rendered, RenderInput, WasmBundle
from compiler.render.layout import Files, Tree, dump_object, dump_yaml, layout
from compiler.render.registry import RENDERERS
from compiler.validate import Validated, validate

__all__ = ["POLICY_LIMITS", "STAGES", "CompileResult", "State", "compile_workspace"]


@dataclass(slots=True)
class State:
    root: Path
    output: str | None
    loaded: LoadResult | None = None
    validated: Validated | None = None
    workspace: Workspace | None = None
    bundles: dict[str, WasmBundle] = field(default_factory=dict)  # by agent key
    module_digests: dict[str, str] = field(default_factory=dict)  # wasm sources -> sha256
    rules: RuleSet | None = None
    policy: PolicyResult = field(default_factory=PolicyResult)
    policy_sources: Future[PolicyResult] | None = None  # source-phase rules, evaluating
    policy_pending: Future[PolicyResult] | None = None  # rendered-phase rules, evaluating
    rendered: Rendered | None = None
    emitted: dict[int, bytes] = field(default_factory=dict)  # id(object) -> YAML, no cache
    tree: Tree | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cache: Cache | None = None  # incremental compiles (compiler/cache.py)


# Policy findings do not make the model unusable: later stages still run, so one compile
# reports every problem; the compile fails all the same (no files on any error).
_POLICY_FINDINGS = frozenset({"M400", "M402", "M403", "M404"})
POLICY_LIMITS = Limits()  # per (rule, document) evaluation: time and memory


def _blocked(s: State) -> bool:
    return has_errors(d for d in s.diagnostics if d.code not in _POLICY_FINDINGS)


def _load(s: State) -> None:
    s.loaded = (load(s.root, s.output, s.cache.parse(parse_yaml), s.cache.discovered())
                if s.cache else load(s.root, s.output))
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
                              s.loaded.digests, v.broken_agents)
    s.diagnostics += diags


def _in_background(fn: Callable[..., PolicyResult], *args: object) -> Future[PolicyResult]:
    """Policy evaluation runs in forked children; a thread waits on them while this process
    renders, checks and emits (their findings never block those stages)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="policy")
    future = pool.submit(fn, *args)
    pool.shutdown(wait=False)
    return future


def _policy(s: State) -> None:
    """Rules are compiled once here; source documents are checked right after link, while
    render goes on (`layout` collects the outcomes)."""
    if s.workspace is None:
        return
    spec = s.workspace.spec
    s.rules = load_rules(s.root, spec.spec.get("policies", []), spec.doc.file, spec.doc)
    s.diagnostics += s.rules.diagnostics
    if _blocked(s):
        return  # invalid rules are reported before any document is evaluated
    memo = s.cache.policy_memo() if s.cache else None
    s.policy_sources = _in_background(check_sources, s.workspace, s.rules, POLICY_LIMITS, memo)


def _policy_rendered(s: State) -> None:
    """Starts the rendered-phase rules. Their forked children evaluate while this process
    checks schemas and emits YAML (`emit`); `layout` collects the outcomes."""
    if s.rendered is None or s.workspace is None or s.rules is None or _blocked(s):
        return
    memo = s.cache.policy_memo() if s.cache else None
    s.policy_pending = _in_background(check_rendered, s.workspace, s.rendered.objects, s.rules,
                                      POLICY_LIMITS, memo)


def _policy_collect(s: State) -> None:
    """The outcomes of both phases, with policy-report.json (rules, tallies, waivers)."""
    if s.policy_sources is not None:
        result, s.policy_sources = s.policy_sources.result(), None
        s.policy.extend(result)
        s.diagnostics += result.diagnostics
    if s.policy_pending is None or s.rendered is None or s.rules is None:
        return
    result, s.policy_pending = s.policy_pending.result(), None
    s.policy.extend(result)
    s.diagnostics += result.diagnostics
    sources = tuple(sorted({f.file for f in s.policy.waivers}))
    s.rendered.artifacts.append(
        Artifact("policy-report.json", policy_report(s.rules, s.policy), sources))


def _wasm(s: State) -> None:
    if s.workspace is None or _blocked(s):
        return
    if not any(a.runtime == "wasm" for a in s.workspace.agents):
        return  # wasmtime is imported only for workspaces that have wasm agents
    from compiler.wasm.stage import build_bundles, module_source_digests

    s.bundles, diags = build_bundles(s.workspace)
    s.module_digests = module_source_digests(s.workspace, s.bundles)
    s.diagnostics += diags


def _render(s: State) -> None:
    if s.workspace is None or _blocked(s):
        return
    out = Rendered()
    inp = RenderInput(ws=s.workspace, wasm=s.bundles, cache=s.cache)
    for renderer in RENDERERS:
        out.extend(renderer(inp))
    s.rendered = out
    s.diagnostics += out.diagnostics


def _check(s: State) -> None:
    if s.rendered is None or s.workspace is None or _blocked(s):
        return
    version = s.workspace.spec.spec.get("kubernetesVersion", check_stage.DEFAULT_VERSION)
    objects = s.cache.unchecked(s.rendered.objects, version) if s.cache else s.rendered.objects
    found = check_stage.check(objects, version, s.cache.schemas(check_stage.schema_text)
                              if s.cache else check_stage.schema_text)
    s.diagnostics += found
    if s.cache and not found:
        s.cache.passed(s.rendered.objects, version)


def _emit(s: State) -> None:
    """Every object as YAML bytes (the costly part of a cold layout) while the policy
    children evaluate. With a cache, check serialised the new objects already and cached
    ones keep their bytes."""
    if s.rendered is None or s.workspace is None or _blocked(s) or s.cache is not None:
        return
    s.emitted = {id(o): dump_object(o) for o in s.rendered.objects}


def _layout(s: State) -> None:
    _policy_collect(s)
    if s.rendered is None or s.workspace is None or _blocked(s):
        return
    sources = {**s.workspace.source_digests, **s.module_digests}
    emitted = s.emitted
    s.tree = layout(s.workspace.spec.name, s.rendered.objects, s.rendered.artifacts, sources,
                    s.cache.serialise(dump_object) if s.cache
                    else lambda o: emitted.get(id(o)) or dump_object(o),
                    s.cache.yaml(dump_yaml) if s.cache else dump_yaml)


STAGES: tuple[tuple[str, Callable[[State], None]], ...] = (
    ("load", _load),
    ("validate", _validate),
    ("link", _link),
    ("policy", _policy),
    ("wasm", _wasm),
    ("render", _render),
    ("policy-rendered", _policy_rendered),
    ("check", _check),
    ("emit", _emit),
    ("layout", _layout),
)


@dataclass(frozen=True, slots=True)
class CompileResult:
    root: Path
    workspace: Workspace | None
    files: Files  # the whole output tree, index.json included; empty on errors
    rendered: Rendered | None
    diagnostics: list[Diagnostic]
    policy: PolicyResult = field(default_factory=PolicyResult)  # findings, waivers included
    inputs: dict[str, str] = field(default_factory=dict)  # every file read -> its sha256

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def compile_workspace(
    root: Path,
    output: str | None = None,
    *,
    stop_after: str | None = None,
    on_stage: Callable[[str], None] | None = None,
    cache: Cache | None = None,
) -> CompileResult:
    """Run the stages. With a `cache` (`Cache(root)`), unchanged inputs reuse earlier results;
    the caller saves it (`cache.save(...)`) once the output is written."""
    s = State(root=root.resolve(), output=output, cache=cache)
    for name, step in STAGES:
        if on_stage:
            on_stage(name)
        step(s)
        if name == stop_after:
            break
    _policy_collect(s)  # stopped before layout: the outcomes still belong to the result
    files = s.tree.files if s.tree is not None and not has_errors(s.diagnostics) else Files()
    inputs = {**(s.loaded.digests if s.loaded else {}), **s.module_digests,
              **(s.rules.files if s.rules else {})}
    # a problem found once per environment × region is one problem (units render apart)
    s.diagnostics = list(dict.fromkeys(s.diagnostics))
    return CompileResult(s.root, s.workspace, files, s.rendered, s.diagnostics, s.policy,
                         inputs)
