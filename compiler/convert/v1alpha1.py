"""mentatlab.io/v1alpha1 → v1, on data that is valid against the v1alpha1 schema.

Agent: `spec.type` is `runtime`; `spec.pins: {inputs: {NAME: TYPE}, outputs: {NAME: TYPE}}`
are the lists `spec.inputs` / `spec.outputs` of `{name, type}`. Flow: `spec.steps` is `nodes`
(in `overrides.ENV` too); an edge `"a.out -> b.in"` is `{from: a.out, to: b.in}`. Key order
is kept (a renamed key stays where it was), and every position moves with its node: a pin's
name points at its key in the map, its type at the value; both ends of an edge at the string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compiler.model.raw import Path_, Pos, RawDoc
from compiler.schema import API_VERSION

__all__ = ["convert", "split_edge"]

Remap = Callable[[Path_], Path_ | None]


def split_edge(edge: str) -> tuple[str, str]:
    """`"a.out -> b.in"` → `("a.out", "b.in")`."""
    src, _, dst = edge.partition("->")
    return src.strip(), dst.strip()


def convert(doc: RawDoc) -> RawDoc:
    data: dict[str, Any] = {k: (API_VERSION if k == "apiVersion" else doc.data[k]) for k in doc.data}
    spec = doc.data["spec"]
    extra: dict[Path_, Pos] = {}
    extra_keys: dict[Path_, Pos] = {}
    if doc.kind == "Agent":
        data["spec"] = _agent_spec(doc, spec, extra, extra_keys)
        remap = _agent_path
    else:
        data["spec"] = _flow_spec(doc, spec, extra, extra_keys)
        remap = _flow_path
    return RawDoc(doc.file, doc.index, data, _moved(doc.positions, remap) | extra,
                  _moved(doc.key_positions, remap) | extra_keys)


def _moved(table: dict[Path_, Any], remap: Remap) -> dict[Path_, Any]:
    out = {}
    for path, pos in table.items():
        new = remap(path)
        if new is not None:
            out[new] = pos
    return out


def _agent_path(path: Path_) -> Path_ | None:
    if path[:2] == ("spec", "type"):
        return ("spec", "runtime", *path[2:])
    if path[:2] == ("spec", "pins"):
        return None  # placed by _agent_spec
    return path


def _agent_spec(doc: RawDoc, spec: dict[str, Any], pos: dict[Path_, Pos],
                keys: dict[Path_, Pos]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "type":
            out["runtime"] = value
        elif key == "pins":
            for side in ("inputs", "outputs"):
                if side not in value:
                    continue
                old = ("spec", "pins", side)
                pos[("spec", side)] = doc.pos(old)
                keys[("spec", side)] = doc.pos(old, key=True)
                out[side] = []
                for i, (name, type_) in enumerate(value[side].items()):
                    at_name, at_type = doc.pos((*old, name), key=True), doc.pos((*old, name))
                    new = ("spec", side, i)
                    pos[new] = pos[(*new, "name")] = keys[(*new, "name")] = at_name
                    pos[(*new, "type")] = keys[(*new, "type")] = at_type
                    out[side].append({"name": name, "type": type_})
        else:
            out[key] = value
    return out


def _flow_path(path: Path_) -> Path_ | None:
    if path[:2] == ("spec", "steps"):
        return ("spec", "nodes", *path[2:])
    if path[:2] == ("spec", "overrides") and len(path) >= 4 and path[3] == "steps":
        return (*path[:3], "nodes", *path[4:])
    return path


def _flow_spec(doc: RawDoc, spec: dict[str, Any], pos: dict[Path_, Pos],
               keys: dict[Path_, Pos]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "steps":
            out["nodes"] = value
        elif key == "edges":
            out["edges"] = []
            for i, edge in enumerate(value):
                src, dst = split_edge(edge)
                at = doc.pos(("spec", "edges", i))
                for end in ("from", "to"):
                    pos[("spec", "edges", i, end)] = keys[("spec", "edges", i, end)] = at
                out["edges"].append({"from": src, "to": dst})
        elif key == "overrides":
            out["overrides"] = {env: {("nodes" if k == "steps" else k): v for k, v in o.items()}
                                for env, o in value.items()}
        else:
            out[key] = value
    return out
