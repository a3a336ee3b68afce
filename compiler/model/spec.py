"""Validated specs as `validate` produces them. A value of these types is never re-checked.

Each spec keeps its `RawDoc` so later stages can point diagnostics at the source line; fields
not modelled here (extensions owned by one stage) are read from `doc.data["spec"]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.model.raw import RawDoc

MEDIA_TYPES = frozenset({"image", "audio", "video", "file"})


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    namespace: str
    regions: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def cluster(self, region: str) -> str:
        """Where `region` of this environment runs (`environments[].cluster`): an API server
        URL or an Argo CD cluster name; "" when not given (Argo CD's own cluster)."""
        value = self.extra.get("cluster")
        if isinstance(value, dict):
            value = value.get(region)
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class WorkspaceSpec:
    name: str
    sources: tuple[str, ...]
    output: str
    registries: tuple[str, ...]
    environments: tuple[Environment, ...]
    storage: dict[str, Any] | None
    telemetry: dict[str, Any] | None
    pricing: dict[str, Any] | None
    doc: RawDoc = field(compare=False, repr=False)

    @property
    def spec(self) -> dict[str, Any]:
        return self.doc.data["spec"]

    def environment(self, name: str) -> Environment | None:
        return next((e for e in self.environments if e.name == name), None)


@dataclass(frozen=True, slots=True)
class Pin:
    name: str
    type: str
    stream: bool = False

    @property
    def media(self) -> bool:
        return self.type in MEDIA_TYPES


@dataclass(frozen=True, slots=True)
class AgentSpec:
    name: str
    version: str
    runtime: str  # container | wasm
    image: str | None
    module: str | None  # workspace-relative path of the .wasm/.wat module
    inputs: tuple[Pin, ...]
    outputs: tuple[Pin, ...]
    resources: dict[str, Any]
    env: tuple[tuple[str, str], ...]
    secrets: tuple[tuple[str, str, str], ...]  # (env name, secret name, key)
    capabilities: dict[str, Any]
    labels: dict[str, str]
    annotations: dict[str, str]
    doc: RawDoc = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def uses_media(self) -> bool:
        return any(p.media for p in (*self.inputs, *self.outputs))

    def input(self, name: str) -> Pin | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Pin | None:
        return next((p for p in self.outputs if p.name == name), None)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    id: str
    agent: str  # agent name
    range: str  # semver range text, as written
    replicas: int
    index: int  # position in spec.nodes (for diagnostics)


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    src_node: str
    src_pin: str
    dst_node: str
    dst_pin: str
    index: int  # position in spec.edges


@dataclass(frozen=True, slots=True)
class FlowSpec:
    name: str
    version: str
    mode: str  # job | service | stream
    schedule: str | None
    environments: tuple[str, ...] | None  # None: all
    regions: tuple[str, ...] | None  # None: all of each environment's regions
    nodes: tuple[NodeSpec, ...]
    edges: tuple[EdgeSpec, ...]
    scheduling: dict[str, Any]
    overrides: dict[str, Any]
    labels: dict[str, str]
    annotations: dict[str, str]
    doc: RawDoc = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def spec(self) -> dict[str, Any]:
        return self.doc.data["spec"]
