"""`mentatctl explain KIND[.field.path]` and `mentatctl schema export DIR`: the input kinds'
JSON Schemas (schemas/, the single source of truth) for people and for editors."""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from compiler.output import emit, output_option
from compiler.schema import API_GROUP, KINDS, OLD_VERSIONS, VERSIONS, bundled_schema

__all__ = ["Field", "explain", "export_files", "lookup", "schema"]

EDITOR_KINDS = ("Workspace", "Agent", "Flow")


def _kinds(version: str) -> tuple[str, ...]:
    return EDITOR_KINDS if version == VERSIONS[0] else OLD_VERSIONS.get(version, ())


@dataclass(frozen=True, slots=True)
class Field:
    """One node of a schema, as explain shows it."""

    path: str  # dotted, "" for the kind itself
    type: str
    required: bool
    description: str
    schema: dict[str, Any] = field(repr=False)
    children: list[tuple[str, str, bool, str]] = field(default_factory=list)  # name, type, req, desc


def _deref(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    node = _deref(node, defs)
    if "enum" in node:
        kinds = {type(v).__name__ for v in node["enum"]}
        return "string" if kinds == {"str"} else "|".join(sorted(kinds))
    t = node.get("type")
    if isinstance(t, list):
        return "|".join(t)
    if t == "array":
        return f"[]{_type(node.get('items', {}), defs)}"
    if t == "object" and "properties" not in node and isinstance(
            node.get("additionalProperties"), dict):
        return f"map[string]{_type(node['additionalProperties'], defs)}"
    return str(t or "any")


def _children(node: dict[str, Any], defs: dict[str, Any]) -> list[tuple[str, str, bool, str]]:
    node = _deref(node, defs)
    if node.get("type") == "array":
        return _children(node.get("items", {}), defs)
    if "properties" not in node and isinstance(node.get("additionalProperties"), dict):
        return _children(node["additionalProperties"], defs)  # a map: its values' fields
    required = set(node.get("required", ()))
    return [(name, _type(sub, defs), name in required,
             str(_deref(sub, defs).get("description", "")))
            for name, sub in node.get("properties", {}).items()]


def lookup(kind: str, path: list[str], version: str = "v1") -> Field:
    """The schema node at `path` below `kind`; click.UsageError (with a suggestion) when
    there is none."""
    schema = bundled_schema(kind, version)
    defs = schema.get("$defs", {})
    node, required = schema, True
    walked: list[str] = []
    for seg in path:
        node = _deref(node, defs)
        while node.get("type") == "array":  # a list's fields are its items' fields
            node = _deref(node.get("items", {}), defs)
        props = node.get("properties", {})
        if seg in props:
            required = seg in node.get("required", ())
            node = props[seg]
        elif isinstance(node.get("additionalProperties"), dict) and not props:
            required, node = False, node["additionalProperties"]  # a map: any key
        else:
            where = ".".join([kind, *walked])
            guess = difflib.get_close_matches(seg, list(props), n=1, cutoff=0.5)
            hint = f"; did you mean '{guess[0]}'?" if guess else (
                f"; fields: {', '.join(props)}" if props else f"; {where} has no fields")
            raise click.UsageError(f"{where} has no field '{seg}'{hint}")
        walked.append(seg)
    node = _deref(node, defs)
    return Field(".".join(walked), _type(node, defs), required,
                 str(node.get("description") or schema.get("description", "") if not walked
                     else node.get("description", "")), node, _children(node, defs))


def _constraints(node: dict[str, Any]) -> list[str]:
    out = []
    if "enum" in node:
        out.append("one of: " + ", ".join(json.dumps(v) for v in node["enum"]))
    for key, label in (("pattern", "pattern"), ("minimum", "minimum"), ("maximum", "maximum"),
                       ("minLength", "min length"), ("maxLength", "max length"),
                       ("minItems", "min items")):
        if key in node:
            out.append(f"{label}: {node[key]}")
    if node.get("uniqueItems"):
        out.append("items are unique")
    return out


def render_text(kind: str, version: str, f: Field) -> str:
    lines = [f"KIND:     {kind}", f"VERSION:  {API_GROUP}/{version}", ""]
    if f.path:
        lines += [f"FIELD:    {f.path} <{f.type}>" + ("  -required-" if f.required else ""), ""]
    lines += ["DESCRIPTION:", f"    {f.description or '<empty>'}"]
    constraints = _constraints(f.schema)
    if constraints:
        lines += ["", "CONSTRAINTS:", *(f"    {c}" for c in constraints)]
    if f.children:
        lines += ["", "FIELDS:"]
        for name, type_, req, desc in f.children:
            lines.append(f"  {name:<24}<{type_}>" + ("  -required-" if req else ""))
            if desc:
                lines.append(f"    {desc}")
    return "\n".join(lines) + "\n"


def _kind(name: str, version: str) -> str:
    kinds = _kinds(version)
    for k in kinds:
        if k.lower() == name.lower():
            return k
    guess = difflib.get_close_matches(name, kinds, n=1, cutoff=0.5)
    raise click.UsageError(f"unknown kind {name!r} in {API_GROUP}/{version}"
                           + (f"; did you mean '{guess[0]}'?" if guess else "")
                           + f" (kinds: {', '.join(kinds)})")


@click.command()
@click.argument("target", metavar="KIND[.FIELD.PATH]")
@click.option("--api-version", "version", type=click.Choice(VERSIONS), default=VERSIONS[0],
              show_default=True, help="The schema version to explain.")
@output_option()
def explain(target: str, version: str, fmt: str) -> None:
    """Describe a kind or one of its fields, from the schemas the compiler validates with.

    A list's fields are its items' fields (Flow.spec.nodes.agent). An unknown field is an
    error (exit 2) that suggests the nearest one.

    \b
    Examples:
      mentatctl explain Agent
      mentatctl explain flow.spec.edges.from
      mentatctl explain Agent.spec.pins --api-version v1alpha1
      mentatctl explain Flow.spec.mode -o json
    """
    name, *path = target.split(".")
    kind = _kind(name, version)
    f = lookup(kind, [p for p in path if p], version)
    emit(fmt, {
        "kind": kind, "apiVersion": f"{API_GROUP}/{version}", "field": f.path,
        "type": f.type, "required": f.required, "description": f.description,
        "constraints": _constraints(f.schema),
        "fields": [{"name": n, "type": t, "required": r, "description": d}
                   for n, t, r, d in f.children]}, text=render_text(kind, version, f))


# --- schema export -----------------------------------------------------------------------


def export_files() -> dict[str, bytes]:
    """Self-contained schemas (shared definitions inlined) for editors: `KIND.json` for v1,
    `VERSION/KIND.json` for the older versions still read."""
    out: dict[str, bytes] = {}
    for version in VERSIONS:
        prefix = "" if version == VERSIONS[0] else f"{version}/"
        for kind in _kinds(version):
            text = json.dumps(bundled_schema(kind, version), indent=2, ensure_ascii=False)
            out[f"{prefix}{KINDS[kind]}.json"] = (text + "\n").encode()
    return out


@click.group()
def schema() -> None:
    """The input kinds' JSON Schemas.

    \b
    Example:
      mentatctl schema export .schemas
    """


@schema.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
@output_option()
def export(directory: str, fmt: str) -> None:
    """Write the JSON Schemas (draft 2020-12) into DIRECTORY for editors.

    DIRECTORY gets workspace.json, agent.json and flow.json (v1) and v1alpha1/ (the older
    format). Point the YAML language server at them with a first line such as
    `# yaml-language-server: $schema=../../.schemas/agent.json` (relative to the file), or
    map file patterns to them in the editor's settings (docs/authoring.md).

    \b
    Examples:
      mentatctl schema export .schemas
      mentatctl schema export .schemas -o json
    """
    base = Path(directory)
    files = export_files()
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    emit(fmt, {"ok": True, "directory": str(base), "files": list(files)},
         text="\n".join(f"wrote {base / rel}" for rel in files))
