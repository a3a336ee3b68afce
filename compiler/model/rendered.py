"""What `render` produces: Kubernetes objects as data, other files as bytes, wasm bundles.

These are values passed between the stages after render (policy, check, layout) and built
by the wasm stage before it, so they live here rather than in `render/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import Diagnostic

__all__ = ["Artifact", "K8sObject", "Rendered", "WasmBundle"]


@dataclass(frozen=True, slots=True)
class WasmBundle:
    """An agent version's module packaged as an OCI image layout (see compiler/wasm/)."""

    agent_key: str  # "name@version"
    digest: str  # "sha256:<hex>" of the OCI image manifest: what Deployments reference
    module_digest: str  # "sha256:<hex>" of the module layer
    path: str  # output-relative directory of the OCI layout, e.g. "bundles/echo-1.0.0"
    files: dict[str, bytes] = field(default_factory=dict, repr=False)  # rel to `path`
    source_digest: str = ""  # sha256 hex of the module source the bundle was built from


@dataclass(frozen=True, slots=True)
class K8sObject:
    dir: str  # output-relative directory: "<env>/<region>", "crds", "policies", ...
    obj: dict[str, Any]
    sources: tuple[str, ...]  # workspace-relative source files it came from
    origin: tuple[str, int, int] = ("", 0, 0)  # (file, line, col) diagnostics point at
    group: str = ""  # the flow it belongs to, if any: policy `siblings` are per group

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]


@dataclass(frozen=True, slots=True)
class Artifact:
    path: str  # output-relative, POSIX
    content: bytes
    sources: tuple[str, ...]


@dataclass(slots=True)
class Rendered:
    objects: list[K8sObject] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def extend(self, other: Rendered) -> None:
        self.objects += other.objects
        self.artifacts += other.artifacts
        self.diagnostics += other.diagnostics
