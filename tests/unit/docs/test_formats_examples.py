"""docs/formats.md is a complete, working example: its `# file:` blocks form a workspace that
compiles without a single diagnostic, and its examples use every field the schemas define."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.pipeline import compile_workspace
from compiler.resources import schemas_dir

DOC = Path(__file__).resolve().parents[3] / "docs" / "formats.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
FILE = re.compile(r"(?:#|;;) file: (\S+)")
SCHEMAS = {"Workspace": "workspace", "Agent": "agent", "Flow": "flow", "PolicyRule": "policy"}


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text())]


def test_the_file_blocks_compile_cleanly(tmp_path: Path) -> None:
    written = 0
    for _, body in blocks():
        m = FILE.match(body)
        if m:
            path = tmp_path / m.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
            written += 1
    assert written >= 5
    result = compile_workspace(tmp_path)
    assert result.diagnostics == [] and result.files


def _schema_paths(schema: dict[str, Any], defs: dict[str, Any], path: str = "",
                  seen: tuple[str, ...] = ()) -> set[str]:
    out: set[str] = set()
    ref = schema.get("$ref")
    if ref:
        name = ref.split("/")[-1]
        return set() if name in seen else _schema_paths(defs[name], defs, path, (*seen, name))
    branches = [schema[k] for k in ("then", "else") if k in schema]
    for sub in (*schema.get("oneOf", ()), *schema.get("anyOf", ()), *schema.get("allOf", ()),
                *branches):
        out |= _schema_paths(sub, defs, path, seen)
    for key, sub in schema.get("properties", {}).items():
        out.add(f"{path}.{key}")
        out |= _schema_paths(sub, defs, f"{path}.{key}", seen)
    if isinstance(schema.get("items"), dict):
        out |= _schema_paths(schema["items"], defs, f"{path}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        out |= _schema_paths(schema["additionalProperties"], defs, f"{path}.*", seen)
    return out


def _doc_paths(value: Any, schema_keys: set[str], path: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            # a map of user-chosen names (regions, flows, nodes) reads as `.*` in the schema
            named = f"{path}.{key}" if f"{path}.{key}" in schema_keys else f"{path}.*"
            out.add(named)
            out |= _doc_paths(sub, schema_keys, named)
    elif isinstance(value, list):
        for sub in value:
            out |= _doc_paths(sub, schema_keys, f"{path}[]")
    return out


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_field_appears_in_an_example(kind: str) -> None:
    base = schemas_dir() / "mentatlab.io" / "v1"
    schema = json.loads((base / f"{SCHEMAS[kind]}.json").read_text())
    defs = {**json.loads((base / "common.json").read_text())["$defs"], **schema.get("$defs", {})}
    fields = _schema_paths(schema, defs)
    used: set[str] = set()
    for lang, body in blocks():
        if lang == "yaml":
            for doc in yaml.safe_load_all(body):
                if isinstance(doc, dict) and doc.get("kind") == kind:
                    used |= _doc_paths(doc, fields)
    missing = sorted(fields - used)
    assert not missing, f"docs/formats.md shows no {kind} with: {missing}"
