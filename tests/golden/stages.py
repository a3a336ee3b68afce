"""What each compiler stage produces on a golden workspace, as reviewable text.

`snapshot(root, stage)` runs `compile_workspace(root, stop_after=stage)` and prints the part of
the result that stage adds, then the diagnostics reported so far. Every dumper reads public
values only: the `CompileResult` fields (`inputs`, `workspace`, `policy`, `rendered`,
`diagnostics`, `files`), and for the two stages whose value the result does not carry yet,
the stage functions' own return values (`load(root) -> LoadResult`,
`validate(loaded) -> Validated`). Nothing here reads the pipeline's internals: when the
stages change shape, this module is the one place to adapt.

Lines are sorted wherever the order is not itself the stage's output (a flow's nodes are
printed in the topological order link computes), so a golden changes only when what a stage
produces changes.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.diagnostics import Diagnostic
from compiler.load import LoadResult, load
from compiler.model import Rendered, Workspace
from compiler.pipeline import STAGES, CompileResult, compile_workspace
from compiler.policy import PolicyResult
from compiler.validate import Validated, validate

if TYPE_CHECKING:
    from compiler.cache import Cache

__all__ = ["DUMPERS", "STAGE_NAMES", "dump_diagnostics", "dump_files", "dump_inputs",
           "dump_link", "dump_load", "dump_policy", "dump_rendered", "dump_validate",
           "dump_wasm", "snapshot", "unified"]

STAGE_NAMES: tuple[str, ...] = STAGES


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def _pins(pins: Iterable[Any]) -> str:
    return ", ".join(f"{p.name}:{p.type}{' stream' if p.stream else ''}" for p in pins) or "-"


def _typed(value: Any) -> str:
    """A typed value of the workspace spec (a frozen dataclass), field by field."""
    if value is None:
        return "-"
    return ", ".join(f"{f.name}={_typed(v) if is_dataclass(v := getattr(value, f.name)) else v}"
                     for f in fields(value))


def _mapping(value: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k}={value[k]}" for k in sorted(value)) if value else "-"


def dump_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[str]:
    lines = sorted(f"{d.file}:{d.line}:{d.col}: {d.severity}[{d.code}]: {d.message}"
                   for d in diagnostics)
    return ["diagnostics:", *(f"  {line}" for line in lines)] if lines else ["diagnostics: none"]


def dump_inputs(inputs: Mapping[str, str]) -> list[str]:
    """Every file the compile read so far, with the start of its sha256."""
    return ["inputs:", *(f"  {path} {inputs[path][:16]}" for path in sorted(inputs))]


def dump_load(loaded: LoadResult) -> list[str]:
    """The documents found, each with its kind, name and where it starts."""
    out = ["documents:"]
    docs = ([loaded.workspace] if loaded.workspace else []) + list(loaded.docs)
    for doc in sorted(docs, key=lambda d: (d.file, d.index)):
        meta = doc.data.get("metadata") if isinstance(doc.data, dict) else None
        name = meta.get("name", "") if isinstance(meta, dict) else ""
        version = meta.get("version") if isinstance(meta, dict) else None
        line, col = doc.pos()
        out.append(f"  {doc.file}#{doc.index} {line}:{col} {doc.api_version} {doc.kind} "
                   f"{name}{'@' + str(version) if version else ''}")
    return out


def dump_validate(validated: Validated) -> list[str]:
    """The typed specs' key fields."""
    out = []
    ws = validated.workspace
    if ws is not None:
        out += [f"workspace {ws.name}: sources={list(ws.sources)} output={ws.output} "
                f"registries={list(ws.registries)}",
                *(f"  environment {e.name}: namespace={e.namespace} regions={list(e.regions)}"
                  for e in ws.environments),
                f"  storage={_typed(ws.storage)}",
                f"  telemetry={_typed(ws.telemetry)}",
                f"  pricing={_typed(ws.pricing)}"]
    for a in sorted(validated.agents, key=lambda a: (a.name, a.version)):
        out += [f"agent {a.name}@{a.version}: runtime={a.runtime} "
                f"{'image=' + str(a.image) if a.image else 'module=' + str(a.module)}",
                f"  inputs: {_pins(a.inputs)}", f"  outputs: {_pins(a.outputs)}",
                f"  resources: {_mapping(a.resources)}",
                f"  capabilities: {_mapping(a.capabilities)}"]
    for f in sorted(validated.flows, key=lambda f: (f.name, f.version)):
        out += [f"flow {f.name}@{f.version}: mode={f.mode} schedule={f.schedule} "
                f"environments={f.environments} regions={f.regions}",
                *(f"  node {n.id}: {n.agent}@{n.range} replicas={n.replicas}" for n in f.nodes),
                *(f"  edge {e.src_node}.{e.src_pin} -> {e.dst_node}.{e.dst_pin}" for e in f.edges),
                f"  overrides: {_mapping(f.overrides)}",
                f"  scheduling: {_mapping(f.scheduling)}",
                f"  labels: {_mapping(f.labels)}"]
    return out


def dump_link(workspace: Workspace | None) -> list[str]:
    """The resolved graph: every flow's nodes in topological order with the agent version
    their range resolved to, and its edges."""
    if workspace is None:
        return ["workspace: none"]
    out = [f"workspace {workspace.spec.name}",
           f"  agents: {', '.join(a.key for a in workspace.agents)}",
           f"  source digests: {', '.join(sorted(workspace.source_digests))}"]
    for lf in workspace.flows:
        out.append(f"flow {lf.flow.key} ({lf.flow.mode})")
        out += [f"  {i}. {n.id} -> {n.agent.key} replicas={n.replicas}"
                for i, n in enumerate(lf.nodes, 1)]
        out += [f"  edge {e.src_node}.{e.src_pin} -> {e.dst_node}.{e.dst_pin}" for e in lf.edges]
    return out


def dump_policy(policy: PolicyResult) -> list[str]:
    """Findings (waived ones with their reason) and how many checks each rule passed."""
    findings = sorted(f"  {f.rule} {f.severity} {f.status} {f.object} at {f.file}:{f.line}"
                      f"{': ' + f.message if f.message else ''}"
                      f"{' (waived: ' + f.waiver + ')' if f.waiver is not None else ''}"
                      for f in policy.findings)
    return (["findings:", *findings] if findings else ["findings: none"]) + \
        ["passed:", *(f"  {rule} {n}" for rule, n in sorted(policy.passed.items()))]


def dump_wasm(workspace: Workspace | None, inputs: Mapping[str, str]) -> list[str]:
    """The wasm agents and the digest of the module source each bundle is built from."""
    agents = [a for a in (workspace.agents if workspace else ()) if a.runtime == "wasm"]
    if not agents:
        return ["wasm agents: none"]
    return ["wasm agents:", *(f"  {a.key} module={a.module} "
                              f"source={inputs.get(a.module or '', 'not read')[:16]}"
                              for a in agents)]


def dump_rendered(rendered: Rendered | None) -> list[str]:
    """Every rendered object (directory, kind, name, where it came from, its flow) and every
    artifact (path, digest, sources)."""
    if rendered is None:
        return ["rendered: none"]
    objects = sorted(
        f"  {o.dir} {o.kind} {o.name}"
        f"{' ns=' + o.obj['metadata']['namespace'] if 'namespace' in o.obj['metadata'] else ''}"
        f" group={o.group or '-'} origin={o.origin[0]}:{o.origin[1]}:{o.origin[2]}"
        f" sources={','.join(o.sources)}" for o in rendered.objects)
    artifacts = sorted(f"  {a.path} {_sha(a.content)} sources={','.join(a.sources)}"
                       for a in rendered.artifacts)
    return [f"objects: {len(objects)}", *objects, f"artifacts: {len(artifacts)}", *artifacts]


def dump_files(files: Mapping[str, bytes]) -> list[str]:
    """The output tree: every file with its size and digest."""
    return [f"files: {len(files)}",
            *(f"  {p} {len(files[p])} {_sha(files[p])}" for p in sorted(files))]


def _counts(r: CompileResult) -> list[str]:
    """For stages whose product is not public (check passes the objects on):
    what they ran over; their findings are in the diagnostics."""
    if r.rendered is None:
        return ["rendered: none"]
    return [f"objects: {len(r.rendered.objects)}", f"artifacts: {len(r.rendered.artifacts)}"]


# stage -> what it adds, from the result of compile_workspace(root, stop_after=stage)
DUMPERS: dict[str, Callable[[Path, CompileResult], list[str]]] = {
    "load": lambda root, r: dump_load(load(root)) + dump_inputs(r.inputs),
    "validate": lambda root, r: dump_validate(validate(load(root))),
    "link": lambda root, r: dump_link(r.workspace),
    "policy": lambda root, r: dump_policy(r.policy),
    "wasm": lambda root, r: dump_wasm(r.workspace, r.inputs),
    "render": lambda root, r: dump_rendered(r.rendered),
    "policy-rendered": lambda root, r: dump_policy(r.policy),
    "check": lambda root, r: _counts(r),
    "layout": lambda root, r: dump_files(r.files),
}


def snapshot(root: Path, stage: str, *, cache: Cache | None = None) -> str:
    """The text golden of `stage` on the workspace at `root` (through `cache`, if given: an
    incremental compile must give every stage the same product as a cold one)."""
    result = compile_workspace(root, stop_after=stage, memos=cache.memos if cache else None)
    lines = [f"# compile_workspace(stop_after={stage!r}); pytest --update-golden rewrites this",
             *DUMPERS[stage](root.resolve(), result), *dump_diagnostics(result.diagnostics)]
    return "\n".join(lines) + "\n"


def unified(expected: bytes | str | None, actual: bytes | str | None, name: str) -> str:
    """A reviewable diff of one golden file: the golden (`None`: absent) against what the
    compiler produces now."""
    if expected is None or actual is None:
        return f"{name}: {'missing from the golden' if expected is None else 'no longer produced'}"
    old = expected.decode("utf-8", "replace") if isinstance(expected, bytes) else expected
    new = actual.decode("utf-8", "replace") if isinstance(actual, bytes) else actual
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        f"{name} (golden)", f"{name} (compiler)"))
