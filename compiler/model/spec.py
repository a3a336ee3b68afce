"""Validated specs as `validate` produces them. A value of these types is never re-checked.

Each spec keeps its `RawDoc` so later stages can point diagnostics at the source line; fields
not modelled here (extensions owned by one stage) are read from `doc.data["spec"]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from compiler.model.raw import RawDoc

MEDIA_TYPES = frozenset({"image", "audio", "video", "file"})
DEFAULT_KUBERNETES_VERSION = "1.31"  # `spec.kubernetesVersion` when mentat.yaml leaves it out


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
class Storage:
    """`spec.storage`: the S3/MinIO store media pins and job steps pass data through."""

    endpoint: str  # http(s)://host[:port]
    bucket: str
    secret_ref: str  # the Secret holding `accessKey` and `secretKey`


@dataclass(frozen=True, slots=True)
class Sampling:
    """`spec.telemetry.sampling`: which traces the collector keeps (any rule keeps one)."""

    ratio: float | None = None  # the share of the other traces kept at random, 0..1
    keep_errors: bool = False
    slower_than_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Telemetry:
    """`spec.telemetry`: where collectors export, the collector image, trace sampling."""

    endpoint: str  # OTLP/gRPC: http(s)://host[:port]
    collector_image: str  # an OpenTelemetry Collector contrib image, pinned by digest
    sampling: Sampling = field(default_factory=Sampling)


@dataclass(frozen=True, slots=True)
class Pricing:
    """`spec.pricing`: prices per hour for cost estimates, exact (a missing price is 0)."""

    cpu_hour: Fraction = Fraction(0)
    memory_gib_hour: Fraction = Fraction(0)
    gpu_hour: Fraction = Fraction(0)

    def hourly(self, cpu: Fraction, memory_gib: Fraction, gpu: Fraction) -> Fraction:
        return cpu * self.cpu_hour + memory_gib * self.memory_gib_hour + gpu * self.gpu_hour


@dataclass(frozen=True, slots=True)
class WorkspaceSpec:
    name: str
    sources: tuple[str, ...]
    output: str
    registries: tuple[str, ...]
    environments: tuple[Environment, ...]
    storage: Storage | None
    telemetry: Telemetry | None
    pricing: Pricing | None  # None when absent or empty: an empty mapping prices nothing
    kubernetes_version: str  # the target minor version, e.g. "1.31"
    policies: tuple[str, ...]  # workspace-relative directories of the workspace's own rules
    doc: RawDoc = field(compare=False, repr=False)

    @property
    def spec(self) -> dict[str, Any]:
        """The document's `spec` as written: the extensions not modelled here, and the
        `workspace` variable of policy rules."""
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
