"""CRDs are generated from schemas/ and are structural (what the API server accepts)."""

from __future__ import annotations

from typing import Any

from compiler.check import check
from compiler.render import RenderInput
from compiler.render.crds import render, structural
from compiler.validate import bundled_schema

FORBIDDEN = {"$ref", "$defs", "if", "then", "else", "not", "allOf", "const", "propertyNames",
             "uniqueItems"}


def walk(schema: Any) -> list[dict[str, Any]]:
    """Every subschema (not every dict: `properties` maps names to schemas)."""
    found = [schema]
    for key, value in schema.items():
        if key == "properties":
            for sub in value.values():
                found += walk(sub)
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            found += walk(value)
        elif key in ("anyOf", "oneOf"):
            for sub in value:
                found += walk(sub)
    return found


def test_crds_are_structural_and_pass_the_kubernetes_schema() -> None:
    out = render(RenderInput(ws=None))  # type: ignore[arg-type]
    assert [o.name for o in out.objects] == ["agents.mentatlab.io", "flows.mentatlab.io"]
    assert check(out.objects, "1.31") == []
    for o in out.objects:
        schema = o.obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for node in walk(schema):
            assert not FORBIDDEN & node.keys(), node
            types = node.get("type")
            assert types is None or isinstance(types, str)
            if "properties" in node:
                assert node.get("additionalProperties") in (None,)


def test_crd_keeps_what_the_schema_says() -> None:
    agent = bundled_schema("Agent")
    spec = structural(agent["properties"]["spec"], agent["$defs"])
    assert spec["properties"]["runtime"]["enum"] == ["container", "wasm"]
    assert spec["required"] == agent["properties"]["spec"]["required"]
    pin = spec["properties"]["inputs"]["items"]
    assert pin["properties"]["type"]["enum"] == ["text", "json", "image", "audio", "video", "file"]
    cpu = spec["properties"]["resources"]["properties"]["cpu"]
    assert cpu["x-kubernetes-int-or-string"] is True
    env = spec["properties"]["capabilities"]["properties"]["env"]
    assert env["x-kubernetes-list-type"] == "set"
