"""Stage 5, render: pure functions from the linked workspace to output objects and files.

Every renderer takes a `RenderInput` and returns a `Rendered`. Kubernetes objects stay data
(dicts) until `layout` serialises them, so `check` can validate them first; other artifacts
(wasm bundles, reports) are bytes already. `RENDERERS` is the pipeline's render step as data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from compiler.diagnostics import Diagnostic
from compiler.model import Workspace

__all__ = ["Artifact", "K8sObject", "RenderCache", "RenderInput", "Rendered", "WasmBundle"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WasmBundle:
    """An agent version's module packaged as an OCI image layout (see compiler/wasm/)."""

    agent_key: str  # "name@version"
    digest: str  # "sha256:<hex>" of the OCI image manifest: what Deployments reference
    module_digest: str  # "sha256:<hex>" of the module layer
    path: str  # output-relative directory of the OCI layout, e.g. "bundles/echo-1.0.0"
    files: dict[str, bytes] = field(default_factory=dict, repr=False)  # rel to `path`
    source_digest: str = ""  # sha256 hex of the module source the bundle was built from


class RenderCache(Protocol):
    """Memoises a unit of rendering (see compiler/cache.py). `parts` must name every input
    the unit's result depends on, digests included; `depends_on` lists its source files."""

    def unit(self, parts: tuple[str, ...], depends_on: tuple[str, ...],
             build: Callable[[], tuple[list[K8sObject], list[Diagnostic], set[str]]]
             ) -> tuple[list[K8sObject], list[Diagnostic], set[str]]: ...

    def memo(self, parts: tuple[str, ...], build: Callable[[], tuple[T, list[Diagnostic]]],
             dump: Callable[[T], Any], load: Callable[[Any], T]
             ) -> tuple[T, list[Diagnostic]]: ...


@dataclass(frozen=True, slots=True)
class RenderInput:
    ws: Workspace
    wasm: dict[str, WasmBundle] = field(default_factory=dict)  # by agent key
    cache: RenderCache | None = None  # incremental compiles; None renders everything


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
