"""Stage 2, validate: check every document against the JSON Schema of its kind and version,
then build the typed specs later stages rely on.

`jsonschema-rs` answers "is it valid?" fast for the common case; only an invalid document pays
for the `jsonschema` package's detailed errors, which we map to positions from the YAML nodes.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from compiler import cron
from compiler.convert import is_old
from compiler.diagnostics import Diagnostic, Severity
from compiler.load import LoadResult, resolve_inside
from compiler.model.quantity import parse_quantity
from compiler.model.ranges import version_range
from compiler.model.raw import RawDoc
from compiler.model.spec import (
    DEFAULT_KUBERNETES_VERSION,
    AgentSpec,
    EdgeSpec,
    Environment,
    FlowSpec,
    NodeSpec,
    Pin,
    Pricing,
    Sampling,
    Storage,
    Telemetry,
    WorkspaceSpec,
)
from compiler.schema import API_VERSION, KINDS, bundled_schema

if TYPE_CHECKING:  # imported when a document is invalid: it costs ~30 ms at startup
    import jsonschema

__all__ = ["API_VERSION", "KINDS", "Validated", "bundled_schema", "schema_diagnostics", "validate",
           "workspace_spec"]



@dataclass(slots=True)
class Validated:
    workspace: WorkspaceSpec | None
    agents: list[AgentSpec] = field(default_factory=list)
    flows: list[FlowSpec] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # names of agents with a document that failed validation: link says nothing more about
    # references to them (their own diagnostics explain; "not defined" would be a follow-on)
    broken_agents: set[str] = field(default_factory=set)


@cache
def _fast(kind: str, version: str = "v1") -> Any:
    return jsonschema_rs.validator_for(bundled_schema(kind, version))


@cache
def _slow(kind: str, version: str = "v1") -> jsonschema.protocols.Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(bundled_schema(kind, version), format_checker=None)


def validate(loaded: LoadResult) -> Validated:
    out = Validated(workspace=None)
    ws_doc = loaded.workspace
    if ws_doc is not None and _schema_ok(ws_doc, out.diagnostics):
        out.workspace = workspace_spec(ws_doc)
    for doc in loaded.docs:
        if is_old(doc):  # the loader converts those that are valid as written
            if _schema_ok(doc, out.diagnostics, doc.api_version.partition("/")[2]):
                out.diagnostics.append(_at(doc, (), "M201", f"{doc.api_version} {doc.kind} "
                                           "could not be converted"))
            continue
        if doc.kind not in ("Agent", "Flow") or doc.api_version != API_VERSION:
            out.diagnostics.append(_bad_kind(doc))
            continue
        if not _schema_ok(doc, out.diagnostics):
            if doc.kind == "Agent":
                out.broken_agents.add(_name_of(doc))
            continue
        before = len(out.diagnostics)
        if doc.kind == "Agent":
            agent = _agent(doc, loaded.root, out.diagnostics)
            if len(out.diagnostics) == before:
                out.agents.append(agent)
            else:
                out.broken_agents.add(_name_of(doc))
        else:
            flow = _flow(doc, out.diagnostics)
            if len(out.diagnostics) == before:
                out.flows.append(flow)
    return out


def _name_of(doc: RawDoc) -> str:
    meta = doc.data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else ""


def _bad_kind(doc: RawDoc) -> Diagnostic:
    kind, api = doc.data.get("kind"), doc.data.get("apiVersion")
    if api != API_VERSION:
        p = doc.pos(("apiVersion",))
        msg = f"unsupported apiVersion {api!r}" if api else "missing apiVersion"
        return Diagnostic("M200", msg, doc.file, p.line, p.col, hint=f"use {API_VERSION}")
    p = doc.pos(("kind",))
    known = ["Agent", "Flow"] + (["Workspace"] if kind == "Workspace" else [])
    guess = difflib.get_close_matches(str(kind), known, n=1)
    msg = f"unknown kind {kind!r}" if kind else "missing kind"
    if kind == "Workspace":
        msg = "a Workspace belongs in mentat.yaml at the workspace root, not among the sources"
    hint = f"did you mean '{guess[0]}'?" if guess and kind != "Workspace" else "kinds: Agent, Flow"
    return Diagnostic("M200", msg, doc.file, p.line, p.col, hint=hint)


def schema_diagnostics(doc: RawDoc, version: str = "v1") -> list[Diagnostic]:
    """Where `doc` breaks its kind's schema of `version`, located (empty when it is valid)."""
    diags: list[Diagnostic] = []
    _schema_ok(doc, diags, version)
    return diags


def _schema_ok(doc: RawDoc, diags: list[Diagnostic], version: str = "v1") -> bool:
    if _fast(doc.kind, version).is_valid(doc.data):
        return True
    found = [d for e in _slow(doc.kind, version).iter_errors(doc.data)
             for d in _explain(doc, e)]
    # `jsonschema` and `jsonschema-rs` agree on validity; keep a diagnostic even if not,
    # at the document and saying why it names no field.
    p = doc.pos(())
    diags.extend(_dedupe(found) or [Diagnostic(
        "M201", f"this {doc.kind} fails its schema, but no field can be named", doc.file,
        p.line, p.col,
        hint="a value the two schema validators read differently; please report it")])
    return False


def _dedupe(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return list(dict.fromkeys(diags))


_CODE_BY_FIELD: dict[tuple[str | int, ...], str] = {("metadata", "name"): "M203",
                                                    ("metadata", "version"): "M204"}


def _explain(doc: RawDoc, err: jsonschema.ValidationError) -> list[Diagnostic]:
    path = tuple(err.absolute_path)
    where = ".".join(str(p) for p in path) or "document"
    # set on every error `iter_errors` yields (the stubs allow "unset" for hand-made ones)
    value: Any = err.validator_value
    schema: Any = err.schema
    instance: Any = err.instance
    validator = err.validator
    if validator in ("anyOf", "oneOf", "allOf") and err.context:
        import jsonschema

        best = jsonschema.exceptions.best_match(err.context)
        return _explain(doc, best) if best is not None else []
    if validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extras = sorted(k for k in instance if k not in schema.get("properties", {}))
        return [_unknown_field(doc, path, k, allowed) for k in extras]
    if validator == "not":
        names = _required_names(value)
        present = [n for n in names if isinstance(instance, dict) and n in instance]
        return [
            _at(doc, (*path, n), "M202", f"field '{n}' is not allowed here", key=True,
                hint=_context_hint(doc, path))
            for n in present
        ]
    code = _CODE_BY_FIELD.get(path[-2:], "M201") if len(path) >= 2 else "M201"
    if _secret(path) and validator not in ("required", "type"):
        # an env value is configuration that may be secret: say what is wrong, never it
        return [_at(doc, path, code, f"{where}: the value fails the schema's '{validator}' check")]
    if validator == "required":
        missing = [n for n in value if n not in instance]
        return [_at(doc, path, "M201", f"{where}: missing required field '{n}'", key=True)
                for n in missing]
    if validator == "enum":
        guess = difflib.get_close_matches(str(instance), [str(v) for v in value], n=1)
        hint = f"did you mean '{guess[0]}'?" if guess else ""
        choices = ", ".join(str(v) for v in value)
        return [_at(doc, path, code, f"{where}: {instance!r} is not one of: {choices}", hint=hint)]
    if validator == "type":
        got = type(instance).__name__.replace("NoneType", "null").replace("dict", "mapping")
        got = got.replace("list", "sequence").replace("str", "string")
        return [_at(doc, path, code, f"{where}: expected {_types(value)}, got {got}",
                    hint=_unquoted_hint(path, value, instance))]
    if validator == "pattern":
        # names: anything constrained by the DNS-1123 label pattern, and flow node ids
        if code == "M203" or value == _dns_label_pattern() or path[-1:] == ("id",):
            msg = f"{where}: {instance!r} is not a valid name (DNS-1123 label)"
            hint = "lowercase letters, digits and '-', starting and ending with a letter or digit"
            return [_at(doc, path, "M203", msg, hint=hint)]
        if code == "M204":
            return [_at(doc, path, "M204", f"{where}: {instance!r} is not a semantic version",
                        hint="MAJOR.MINOR.PATCH, e.g. 1.2.0")]
        if path and path[-1] in ("agent", "from", "to"):
            form = "NAME@SEMVER-RANGE" if path[-1] == "agent" else "NODE.PIN"
            return [_at(doc, path, "M206", f"{where}: {instance!r} is not of the form {form}")]
        return [_at(doc, path, code, f"{where}: {instance!r} does not match {value}")]
    if validator in ("maxLength", "minLength") and code == "M201" and path and path[-1] == "name":
        code = "M203"
    return [_at(doc, path, code, f"{where}: {err.message}")]


def _unquoted_hint(path: tuple[Any, ...], want: Any, got: Any) -> str:
    """YAML reads `version: 2.1` as a float and `enabled: yes` as a bool: say so."""
    if "string" not in (want if isinstance(want, list) else [want]):
        return ""
    if isinstance(got, bool):
        return "YAML reads yes/no/true/false/on/off as a boolean: quote it to mean the text"
    if not isinstance(got, int | float):
        return ""
    if path[-1:] == ("version",):
        return (f"YAML reads {got} as a number: quote a full semantic version, e.g. "
                f"version: \"{got}.0\"" if isinstance(got, float) else
                f"version: \"{got}.0.0\"")
    return f"YAML reads {got} as a number: quote it (\"...\") to keep it as written"


def _secret(path: tuple[Any, ...]) -> bool:
    """An env entry's value (`...env.N.value`): never quoted in a message."""
    return len(path) >= 3 and path[-1] == "value" and path[-3] == "env"


@cache
def _dns_label_pattern() -> str:
    return str(bundled_schema("Agent")["$defs"]["dnsLabel"]["pattern"])


def _types(value: Any) -> str:
    names: list[str] = value if isinstance(value, list) else [value]
    table = {"object": "mapping", "array": "sequence"}
    return " or ".join(table.get(n, n) for n in names)


def _required_names(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        names = list(schema.get("required", []))
        for sub in schema.get("anyOf", []):
            names += _required_names(sub)
        return names
    return []


def _context_hint(doc: RawDoc, path: tuple[Any, ...]) -> str:
    spec = doc.data.get("spec", {})
    if doc.kind == "Agent":
        return f"not valid for runtime: {spec.get('runtime')}"
    if doc.kind == "Flow":
        return f"only for mode: job (this flow is mode: {spec.get('mode')})"
    return ""


def _unknown_field(doc: RawDoc, path: tuple[Any, ...], key: str, allowed: list[str]) -> Diagnostic:
    guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{guess[0]}'?" if guess else f"allowed: {', '.join(allowed)}"
    where = ".".join(str(p) for p in path)
    msg = f"unknown field '{key}'" + (f" in {where}" if where else "")
    return _at(doc, (*path, key), "M202", msg, key=True, hint=hint)


def _at(
    doc: RawDoc, path: tuple[Any, ...], code: str, msg: str, *, key: bool = False, hint: str = "",
    severity: Severity = Severity.ERROR,
) -> Diagnostic:
    p = doc.pos(path, key=key)
    return Diagnostic(code, msg, doc.file, p.line, p.col, severity, hint)


# --- typed specs -------------------------------------------------------------------------


def workspace_spec(doc: RawDoc) -> WorkspaceSpec:
    """The typed spec of a Workspace document that passed its schema."""
    spec = doc.data["spec"]
    envs = tuple(
        Environment(e["name"], e["namespace"], tuple(e["regions"]),
                    {k: v for k, v in e.items() if k not in ("name", "namespace", "regions")})
        for e in spec["environments"]
    )
    return WorkspaceSpec(
        name=doc.data["metadata"]["name"],
        sources=tuple(spec["sources"]),
        output=spec.get("output", "rendered/"),
        registries=tuple(spec.get("registries", ())),
        environments=envs,
        storage=_storage(spec.get("storage")),
        telemetry=_telemetry(spec.get("telemetry")),
        pricing=_pricing(spec.get("pricing")),
        kubernetes_version=spec.get("kubernetesVersion", DEFAULT_KUBERNETES_VERSION),
        policies=tuple(spec.get("policies", ())),
        doc=doc,
    )


def _storage(storage: dict[str, Any] | None) -> Storage | None:
    if storage is None:
        return None
    return Storage(storage["endpoint"], storage["bucket"], storage["secretRef"])


def _telemetry(telemetry: dict[str, Any] | None) -> Telemetry | None:
    if telemetry is None:
        return None
    sampling = telemetry.get("sampling") or {}
    return Telemetry(
        endpoint=telemetry["endpoint"],
        collector_image=telemetry["collectorImage"],
        # the ratio stays the number as written: the rendered percentage is computed from it
        sampling=Sampling(sampling.get("ratio"), bool(sampling.get("keepErrors", False)),
                          sampling.get("slowerThanMs")),
    )


def _pricing(pricing: dict[str, Any] | None) -> Pricing | None:
    if not pricing:  # an empty mapping declares no price: no cost.json, as when absent
        return None
    return Pricing(*(parse_quantity(pricing.get(key, 0))
                     for key in ("cpuHour", "memoryGiBHour", "gpuHour")))


def _pins(items: list[dict[str, Any]]) -> tuple[Pin, ...]:
    return tuple(Pin(p["name"], p["type"], bool(p.get("stream", False))) for p in items)


def _unique(doc: RawDoc, entries: list[tuple[tuple[Any, ...], str]], what: str,
            diags: list[Diagnostic], code: str = "M201") -> None:
    """Each name once; a repeat is reported where it stands (entries: (path, name))."""
    seen: set[str] = set()
    for path, n in entries:
        if n in seen:
            diags.append(_at(doc, path, code, f"{what} '{n}' is defined twice"))
        seen.add(n)


def _named(base: tuple[Any, ...], items: list[dict[str, Any]]) -> list[tuple[tuple[Any, ...], str]]:
    return [((*base, i), item["name"]) for i, item in enumerate(items)]


def _agent(doc: RawDoc, root: Path, diags: list[Diagnostic]) -> AgentSpec:
    meta, spec = doc.data["metadata"], doc.data["spec"]
    inputs, outputs = spec.get("inputs", []), spec.get("outputs", [])
    _unique(doc, _named(("spec", "inputs"), inputs), "input pin", diags)
    _unique(doc, _named(("spec", "outputs"), outputs), "output pin", diags)
    env_names = _named(("spec", "env"), spec.get("env", []))
    env_names += _named(("spec", "secrets"), spec.get("secrets", []))
    _unique(doc, env_names, "environment variable", diags)
    module = None
    if spec["runtime"] == "wasm":
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(doc.file), spec["module"]))
        if spec["module"].startswith("/") or rel.startswith("../") or resolve_inside(root, rel) is None:
            diags.append(_at(doc, ("spec", "module"), "M107",
                             f"module '{spec['module']}' resolves outside the workspace"))
        module = rel
    return AgentSpec(
        name=meta["name"],
        version=meta["version"],
        runtime=spec["runtime"],
        image=spec.get("image"),
        module=module,
        inputs=_pins(inputs),
        outputs=_pins(outputs),
        resources=dict(spec.get("resources", {})),
        env=tuple((e["name"], e["value"]) for e in spec.get("env", [])),
        secrets=tuple(
            (s["name"], s["secretRef"]["name"], s["secretRef"]["key"]) for s in spec.get("secrets", [])
        ),
        capabilities=dict(spec.get("capabilities", {})),
        labels=dict(meta.get("labels", {})),
        annotations=dict(meta.get("annotations", {})),
        doc=doc,
    )


def _check_schedule(doc: RawDoc, schedule: str, diags: list[Diagnostic]) -> None:
    """As the apiserver judges a CronJob's schedule (compiler/cron.py), and a warning for one
    it accepts that never runs."""
    try:
        parsed = cron.parse(schedule)
    except cron.ScheduleError as e:
        diags.append(_at(doc, ("spec", "schedule"), "M205",
                         f"'{schedule}' is not a schedule Kubernetes accepts: {e}",
                         hint="minute hour day-of-month month day-of-week, e.g. '0 * * * *', "
                         "or @hourly, @daily, @weekly, @monthly, @yearly, @every 90m"))
        return
    if cron.never_fires(parsed):
        diags.append(_at(doc, ("spec", "schedule"), "M207",
                         f"schedule '{schedule}' never fires: no date matches it",
                         hint="check the day of month against the month (February has no "
                         "30th), or use day-of-week", severity=Severity.WARNING))


def _flow(doc: RawDoc, diags: list[Diagnostic]) -> FlowSpec:
    meta, spec = doc.data["metadata"], doc.data["spec"]
    schedule = spec.get("schedule")
    if schedule is not None:
        _check_schedule(doc, schedule, diags)
    nodes = []
    for i, n in enumerate(spec["nodes"]):
        name, _, rng = n["agent"].partition("@")
        if version_range(rng) is None:
            diags.append(_at(doc, ("spec", "nodes", i, "agent"), "M204",
                             f"'{rng}' is not a valid semver range",
                             hint="e.g. 1.2.0, ^1.0, ~1.2, '>=1.0 <2'"))
        nodes.append(NodeSpec(n["id"], name, rng, int(n.get("replicas", 1)), i))
    _unique(doc, [(("spec", "nodes", n.index), n.id) for n in nodes], "node id", diags, "M306")
    edges = []
    for i, e in enumerate(spec.get("edges", [])):
        src_node, _, src_pin = e["from"].partition(".")
        dst_node, _, dst_pin = e["to"].partition(".")
        edges.append(EdgeSpec(src_node, src_pin, dst_node, dst_pin, i))
    envs = spec.get("environments")
    regions = spec.get("regions")
    return FlowSpec(
        name=meta["name"],
        version=meta["version"],
        mode=spec["mode"],
        schedule=schedule,
        environments=tuple(envs) if envs else None,
        regions=tuple(regions) if regions else None,
        nodes=tuple(nodes),
        edges=tuple(edges),
        scheduling=dict(spec.get("scheduling", {})),
        overrides=dict(spec.get("overrides", {})),
        labels=dict(meta.get("labels", {})),
        annotations=dict(meta.get("annotations", {})),
        doc=doc,
    )
