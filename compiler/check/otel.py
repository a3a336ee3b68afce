"""Structural check of rendered OpenTelemetry Collector configs.

The collector refuses to start on a dangling or unused component and silently misbehaves on a
bad processor order (batching before sampling splits traces; a memory limiter that is not
first protects nothing). The renderer builds these configs from the workspace, so any finding
here is a compiler bug: reported as M601 by the check stage (`compiler.check.check` runs
`check_collector_objects` on the rendered objects), and the compile writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from compiler.diagnostics import Diagnostic
from compiler.model import K8sObject

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses, as load/parse.py

__all__ = ["KNOWN_COMPONENTS", "check_collector_config", "check_collector_objects"]

_ALL = frozenset({"traces", "metrics", "logs"})
# section -> component type -> signals it supports (extensions have none)
KNOWN_COMPONENTS: dict[str, dict[str, frozenset[str]]] = {
    "receivers": {"otlp": _ALL},
    "processors": {
        "memory_limiter": _ALL, "batch": _ALL, "k8sattributes": _ALL, "resource": _ALL,
        "attributes": _ALL, "filter": _ALL, "transform": _ALL,
        "tail_sampling": frozenset({"traces"}),
        "probabilistic_sampler": frozenset({"traces", "logs"}),
    },
    "exporters": {
        "otlp": _ALL, "otlphttp": _ALL, "debug": _ALL,
        "prometheus": frozenset({"metrics"}),
    },
    "extensions": {"health_check": frozenset(), "pprof": frozenset(), "zpages": frozenset()},
}
_SAMPLERS = ("tail_sampling", "probabilistic_sampler")
_TOP = ("receivers", "processors", "exporters", "extensions", "service")
_PIPELINE_SECTIONS = ("receivers", "processors", "exporters")


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def _check_ids(config: dict[str, Any], problems: list[str]) -> None:
    for section in ("receivers", "processors", "exporters", "extensions"):
        comps = config.get(section, {})
        if not isinstance(comps, dict):
            problems.append(f"{section} is not a mapping")
            continue
        for cid in comps:
            ctype, _, name = str(cid).partition("/")
            if ctype not in KNOWN_COMPONENTS[section]:
                where = f" in {cid!r}" if cid != ctype else ""
                problems.append(f"unknown {section[:-1]} type {ctype!r}{where}")
            elif "/" in str(cid) and not name:
                problems.append(f"{section[:-1]} id {cid!r} has an empty name after '/'")


def _check_order(pid: str, procs: list[str], problems: list[str]) -> None:
    types = [_type(p) for p in procs]
    if not types or types[0] != "memory_limiter":
        problems.append(f"pipeline {pid!r}: memory_limiter must be the first processor")
    if "memory_limiter" in types[1:]:
        problems.append(f"pipeline {pid!r}: memory_limiter appears after another processor")
    if "batch" not in types:
        problems.append(f"pipeline {pid!r}: no batch processor")
        return
    last_batch = len(types) - 1 - types[::-1].index("batch")
    first_batch = types.index("batch")
    for i, t in enumerate(types):
        if t in _SAMPLERS and i > first_batch:
            problems.append(f"pipeline {pid!r}: batch must come after {procs[i]!r}")
        # the pod is found from the connection's peer address, lost once batched or buffered
        if t == "k8sattributes" and (
            i > first_batch or any(s in _SAMPLERS for s in types[:i])
        ):
            problems.append(
                f"pipeline {pid!r}: {procs[i]!r} must come before batch and sampling"
            )
    if last_batch != len(types) - 1:
        problems.append(f"pipeline {pid!r}: batch must be the last processor")


def _check_pipelines(
    config: dict[str, Any], pipelines: dict[str, Any], problems: list[str]
) -> set[tuple[str, str]]:
    used: set[tuple[str, str]] = set()
    for pid, pipeline in pipelines.items():
        signal, _, name = str(pid).partition("/")
        if signal not in _ALL or ("/" in str(pid) and not name):
            problems.append(f"pipeline {pid!r}: unknown signal (traces, metrics or logs)")
            continue
        if not isinstance(pipeline, dict):
            problems.append(f"pipeline {pid!r} is not a mapping")
            continue
        for key in sorted(set(pipeline) - set(_PIPELINE_SECTIONS)):
            problems.append(f"pipeline {pid!r}: unknown key {key!r}")
        for section in _PIPELINE_SECTIONS:
            ids = pipeline.get(section) or []
            if not isinstance(ids, list):
                problems.append(f"pipeline {pid!r}: {section} is not a list")
                continue
            ids = [c if isinstance(c, str) else repr(c) for c in ids]
            if section != "processors" and not ids:
                problems.append(f"pipeline {pid!r}: no {section}")
            defined = config.get(section) or {}
            for cid in dict.fromkeys(ids):
                if ids.count(cid) > 1:
                    problems.append(f"pipeline {pid!r}: {section[:-1]} {cid!r} listed twice")
                used.add((section, cid))
                if cid not in defined:
                    problems.append(f"pipeline {pid!r}: {section[:-1]} {cid!r} is not defined")
                    continue
                signals = KNOWN_COMPONENTS[section].get(_type(str(cid)))
                if signals is not None and signal not in signals:
                    problems.append(
                        f"pipeline {pid!r}: {section[:-1]} {cid!r} does not support {signal}"
                    )
        if isinstance(pipeline.get("processors") or [], list):
            _check_order(str(pid), [str(p) for p in pipeline.get("processors") or []], problems)
    return used


def check_collector_config(config: Any) -> list[str]:
    """Every problem of one collector config, as messages; [] when it is consistent."""
    if not isinstance(config, dict):
        return ["config is not a mapping"]
    problems: list[str] = []
    for key in config:
        if key not in _TOP:
            problems.append(f"unknown top-level key {key!r}")
    _check_ids(config, problems)
    service = config.get("service")
    if not isinstance(service, dict):
        return [*problems, "service is missing or not a mapping"]
    for key in sorted(set(service) - {"extensions", "pipelines", "telemetry"}):
        problems.append(f"service: unknown key {key!r}")
    pipelines = service.get("pipelines")
    if not isinstance(pipelines, dict) or not pipelines:
        return [*problems, "service.pipelines is missing or empty"]
    used = _check_pipelines(config, pipelines, problems)
    for section in _PIPELINE_SECTIONS:
        comps = config.get(section) or {}
        if isinstance(comps, dict):
            for cid in comps:
                if (section, cid) not in used:
                    problems.append(f"{section[:-1]} {cid!r} is defined but not used")
    enabled = service.get("extensions") or []
    extensions = config.get("extensions") or {}
    if not isinstance(enabled, list):
        problems.append("service.extensions is not a list")
    elif isinstance(extensions, dict):
        for ext in enabled:
            if ext not in extensions:
                problems.append(f"extension {ext!r} is enabled but not defined")
        for ext in extensions:
            if ext not in enabled:
                problems.append(f"extension {ext!r} is defined but not enabled")
    return problems


def _config_of(obj: K8sObject) -> tuple[bool, Any]:
    """(is a collector, its config) for rendered objects; parse failures count as a problem."""
    o = obj.obj
    if o.get("kind") == "OpenTelemetryCollector":
        return True, (o.get("spec") or {}).get("config")
    if o.get("kind") == "ConfigMap" and o["metadata"].get("name") == "mentat-otel-collector":
        text = (o.get("data") or {}).get("config.yaml")
        try:
            return True, yaml.load(text, Loader=_LOADER) if isinstance(text, str) else None
        except yaml.YAMLError as e:
            return True, f"config.yaml does not parse: {e}"
    return False, None


def check_collector_objects(objects: Iterable[K8sObject]) -> list[Diagnostic]:
    """M601 for every inconsistency in the collector configs among rendered objects."""
    diags: list[Diagnostic] = []
    for obj in objects:
        is_collector, config = _config_of(obj)
        if not is_collector:
            continue
        problems = (
            [config] if isinstance(config, str) else check_collector_config(config)
        )
        file, line, col = obj.origin
        diags += [
            Diagnostic(
                code="M601",
                message=f"{obj.dir}/{obj.kind} {obj.name}: {p}",
                file=file, line=line, col=col,
                hint="this is a compiler bug; please report it with this workspace",
            )
            for p in problems
        ]
    return diags
