"""`mentatctl version`: what this compiler is made of, for bug reports and reproducibility.

The compiler's version, the input API versions and kinds its schemas define, the Kubernetes
schema version objects are checked against by default (and the newest it has), and the
versions of the libraries that decide what a compile produces (CEL, wasmtime, the schema
packages).
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from typing import Any

import click

from compiler import __version__, resources
from compiler.output import emit, output_option

__all__ = ["facts", "version"]

# The libraries whose behaviour shows in the output or the verdicts, by distribution name.
LIBRARIES = {
    "cel": "cel-expr-python",
    "wasmtime": "wasmtime",
    "kubernetes-validate": "kubernetes-validate",
    "jsonschema-rs": "jsonschema-rs",
    "pyyaml": "pyyaml",
    "sigstore": "sigstore",
}


def _installed(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _schemas() -> dict[str, list[str]]:
    """apiVersion -> the kinds its schemas define (each schema's `kind` enum)."""
    found: dict[str, list[str]] = {}
    base = resources.schemas_dir()
    for group in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else ():
        for version in sorted(p for p in group.iterdir() if p.is_dir()):
            kinds = []
            for path in sorted(version.glob("*.json")):
                kind = json.loads(path.read_text()).get("properties", {}).get("kind", {})
                kinds += kind.get("enum", [kind["const"]] if "const" in kind else [])
            found[f"{group.name}/{version.name}"] = sorted(kinds)
    return found


def facts() -> dict[str, Any]:
    from compiler.check import DEFAULT_VERSION, schema_version

    return {
        "compiler": __version__,
        "python": platform.python_version(),
        "schemas": _schemas(),
        "kubernetes": {"default": schema_version(DEFAULT_VERSION),
                       "newest": schema_version("1.999")},
        "libraries": {name: _installed(dist) for name, dist in LIBRARIES.items()},
    }


@click.command("version")
@output_option()
def version(fmt: str) -> None:
    """Print the compiler's version and what it is built on.

    \b
    Examples:
      mentatctl version
      mentatctl version -o json | jq -r .libraries.cel
    """
    data = facts()
    lines = [f"mentatctl {data['compiler']} (Python {data['python']})"]
    lines += [f"schemas {api}: {', '.join(kinds)}" for api, kinds in data["schemas"].items()]
    lines.append(f"Kubernetes schemas: {data['kubernetes']['default']} by default "
                 f"(newest {data['kubernetes']['newest']})")
    lines += [f"{name} {v}" for name, v in data["libraries"].items()]
    emit(fmt, data, text="\n".join(lines))
