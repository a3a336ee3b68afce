"""CustomResourceDefinitions for Agent and Flow, generated from schemas/ (the single source
of truth), so the cluster and editors know exactly the shapes the compiler accepts.

Kubernetes accepts only *structural* schemas: no $ref, no conditionals, no type unions, no
`additionalProperties: false` next to `properties` (pruning does that job), no uniqueItems.
`structural` converts a JSON Schema to that subset without loosening what it can express.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from compiler.model import K8sObject, Rendered
from compiler.render import RenderInput, unit
from compiler.schema import bundled_schema

__all__ = ["CRD_KINDS", "custom_resource", "render", "structural"]

CRD_KINDS = ("Agent", "Flow")
_DROP = {"$schema", "$id", "$defs", "title", "if", "then", "else", "not", "allOf",
         "propertyNames", "const"}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return structural({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, defs)
    out: dict[str, Any] = {}
    types = schema.get("type")
    if isinstance(types, list):  # quantities: "500m" or 2
        out["x-kubernetes-int-or-string"] = True
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    elif types:
        out["type"] = types
    if "enum" in schema:
        out["enum"] = list(schema["enum"])
        out.setdefault("type", "string" if all(isinstance(v, str) for v in schema["enum"])
                       else "object")
    for key, value in schema.items():
        if key in _DROP or key in ("type", "enum", "$ref"):
            continue
        if key == "properties":
            out["properties"] = {k: structural(v, defs) for k, v in value.items()}
        elif key == "items":
            out["items"] = structural(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict) and "properties" not in schema:
                out["additionalProperties"] = structural(value, defs)
        elif key == "uniqueItems" or (key == "pattern" and isinstance(types, list)):
            continue  # handled below / not expressible for int-or-string
        else:
            out[key] = value
    if schema.get("uniqueItems") and out.get("items", {}).get("type") in ("string", "integer"):
        out["x-kubernetes-list-type"] = "set"  # the structural way to say "unique scalars"
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _crd(kind: str) -> dict[str, Any]:
    schema = bundled_schema(kind)
    spec = structural(schema["properties"]["spec"], schema.get("$defs", {}))
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.mentatlab.io",
            "labels": {"app.kubernetes.io/managed-by": "mentatctl",
                       "app.kubernetes.io/part-of": "mentatlab"},
        },
        "spec": {
            "group": "mentatlab.io",
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural,
                      "singular": kind.lower(), "categories": ["mentatlab"]},
            "versions": [{
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": schema.get("description", ""),
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec,
                    },
                }},
                "additionalPrinterColumns": [
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }],
        },
    }


def render(inp: RenderInput) -> Rendered:
    src = ("schemas/mentatlab.io/v1",)
    # the schemas are the compiler's own (part of every key): nothing else goes in
    return unit(inp, ("crds",), (), lambda: Rendered(
        objects=[K8sObject("crds", _crd(k), src) for k in CRD_KINDS]))


def custom_resource(doc: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A source document as the custom resource its CRD describes. ObjectMeta has no `version`
    and one name may exist in several versions, so the resource is named `<name>-<version>`
    (lowercased, build metadata dropped: `+` is not allowed in a name) and labelled with both."""
    meta = doc["metadata"]
    name, version = str(meta["name"]), str(meta.get("version", ""))
    core = re.sub(r"[^a-z0-9.-]", "-", version.split("+", 1)[0].lower()).strip("-.")
    labels = {**(meta.get("labels") or {}), "mentatlab.io/name": name}
    if version:
        labels["mentatlab.io/version"] = re.sub(r"[^A-Za-z0-9._-]", "_", version)[:63]
    out_meta: dict[str, Any] = {"name": f"{name}-{core}" if core else name,
                                "namespace": namespace, "labels": labels}
    if meta.get("annotations"):
        out_meta["annotations"] = dict(meta["annotations"])
    return {"apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": out_meta,
            "spec": doc["spec"]}
