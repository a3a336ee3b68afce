"""The input kinds' JSON Schemas (schemas/mentatlab.io/VERSION/), read once per (kind, version).

One place for every reader: validate, the loader's v1alpha1 converters, CRDs, `explain` and
`schema export`.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from compiler.resources import schemas_dir

__all__ = ["API_GROUP", "API_VERSION", "KINDS", "OLD_VERSIONS", "VERSIONS", "bundled_schema"]

API_GROUP = "mentatlab.io"
API_VERSION = "mentatlab.io/v1"
KINDS = {"Workspace": "workspace", "Agent": "agent", "Flow": "flow"}
VERSIONS = ("v1", "v1alpha1")  # newest first
OLD_VERSIONS = {"v1alpha1": ("Agent", "Flow")}  # still readable: the kinds it has


@cache
def bundled_schema(kind: str, version: str = "v1") -> dict[str, Any]:
    """The kind's schema with the shared definitions inlined, so it needs no resolver."""
    base = schemas_dir() / API_GROUP / version
    schema = json.loads((base / f"{KINDS[kind]}.json").read_text())
    common = json.loads((base / "common.json").read_text())["$defs"]
    text = json.dumps(schema).replace('"common.json#/$defs/', '"#/$defs/')
    out: dict[str, Any] = json.loads(text)
    out.setdefault("$defs", {}).update(copy.deepcopy(common))
    return out
