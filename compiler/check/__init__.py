"""Stage 6, check: every rendered Kubernetes object against the OpenAPI schema of the target
Kubernetes version (offline, from the `kubernetes-validate` package).

The compiler builds these objects itself, so a failure here is a compiler bug: it is reported
as an error (M600) naming the object, the field and the source it came from, and the compile
fails. One jsonschema-rs validator per (kind, apiVersion) is built once and reused.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson

from compiler.check.otel import check_collector_objects
from compiler.diagnostics import Diagnostic
from compiler.model import DEFAULT_KUBERNETES_VERSION, K8sObject
from compiler.render.argocd import ARGOCD_KINDS

__all__ = ["CUSTOM_KINDS", "DEFAULT_VERSION", "check", "schema_text", "schema_version"]

DEFAULT_VERSION = DEFAULT_KUBERNETES_VERSION  # the name `version` and the pipeline use
# Custom resources we render whose schemas are not part of Kubernetes; each has its own check.
# Argo CD's kinds are checked against Argo CD's own CRD schemas in the test suite
# (tests/argocd/, the npm package @kubernetes-models/argo-cd).
CUSTOM_KINDS = frozenset({("opentelemetry.io/v1beta1", "OpenTelemetryCollector"),
                          *ARGOCD_KINDS})


@cache
def _root() -> Path:
    # Located without importing the package (its import pulls in `jsonschema`, ~30 ms).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("kubernetes_validate")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


@cache
def _versions() -> tuple[tuple[int, int], ...]:
    found = set()
    for entry in _root().iterdir():
        m = re.match(r"^v1\.(\d+)\.0-local-strict$", entry.name)
        if m:
            found.add((1, int(m.group(1))))
    return tuple(sorted(found))


def schema_version(wanted: str) -> str:
    """The newest schema set not newer than `wanted` (as kubernetes-validate picks it)."""
    major, minor = (int(x) for x in wanted.split(".")[:2])
    usable = [v for v in _versions() if v <= (major, minor)] or [_versions()[0]]
    return f"{usable[-1][0]}.{usable[-1][1]}"


@cache
def _definitions(version: str) -> dict[str, Any]:
    path = _root() / f"v{version}.0-local-strict" / "_definitions.json"
    return orjson.loads(path.read_bytes())["$defs"]


def schema_text(version: str, api_version: str, kind: str) -> bytes | None:
    """The JSON schema of one kind with the definitions it reaches (None: no such kind).
    The incremental cache keeps these: reading all definitions costs ~15 ms."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _root() / f"v{version}.0-local-strict" / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    text = path.read_text().replace('"/api/_definitions.json#/$defs/', '"#/$defs/')
    schema = orjson.loads(text)
    schema["$defs"] = _reachable(text, _definitions(version))
    return orjson.dumps(schema)


@cache
def _validator(schema: bytes) -> Any:
    return jsonschema_rs.Draft202012Validator(orjson.loads(schema))


_REF = re.compile(r'"#/\$defs/([^"]+)"')


def _reachable(text: str, defs: dict[str, Any]) -> dict[str, Any]:
    """Only the definitions the schema reaches: compiling all ~600 of them for every kind
    cost ~5 ms a kind, a tenth of a small compile."""
    todo = _REF.findall(text)
    out: dict[str, Any] = {}
    while todo:
        name = todo.pop()
        if name in out or name not in defs:
            continue
        out[name] = defs[name]
        todo += _REF.findall(orjson.dumps(defs[name]).decode())
    return out


def check(objects: list[K8sObject], kubernetes_version: str = DEFAULT_VERSION,
          schemas: Callable[[str, str, str], bytes | None] = schema_text) -> list[Diagnostic]:
    """`schemas` gives `schema_text` (the incremental cache passes one that remembers)."""
    version = schema_version(kubernetes_version)
    diags: list[Diagnostic] = check_collector_objects(objects)
    validators: dict[tuple[str, str], Any] = {}
    for o in objects:
        api, kind = o.obj.get("apiVersion", ""), o.obj.get("kind", "")
        if (api, kind) in CUSTOM_KINDS:
            continue
        if (api, kind) not in validators:
            schema = schemas(version, api, kind)
            validators[api, kind] = _validator(schema) if schema is not None else None
        validator = validators[api, kind]
        f, line, col = o.origin if o.origin[0] else (o.sources[0] if o.sources else "", 0, 0)
        if validator is None:
            diags.append(Diagnostic("M600", f"no Kubernetes {version} schema for {api} {kind} "
                                    f"(rendered {o.dir}/{kind} {o.name})", f, line, col))
            continue
        for err in validator.iter_errors(o.obj):
            where = "/".join(str(p) for p in err.instance_path) or "(root)"
            diags.append(Diagnostic(
                "M600",
                f"compiler bug: rendered {kind} '{o.name}' in {o.dir} fails the Kubernetes "
                f"{version} schema at {where}: {err.message}",
                f, line, col,
                hint="please report this with the source file; the output was not written",
            ))
    return diags
