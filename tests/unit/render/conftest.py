"""Model values built directly (no load/link, and no schema check), for the otel and cost
renderers."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.model import (
    AgentSpec,
    FlowSpec,
    LinkedFlow,
    LinkedNode,
    NodeSpec,
    RawDoc,
    Workspace,
)
from compiler.validate import workspace_spec


class Build:
    @staticmethod
    def agent(name: str = "summarizer", version: str = "1.0.0", **resources: Any) -> AgentSpec:
        res = resources or {"cpu": "500m", "memory": "256Mi", "gpu": 0}
        doc = RawDoc(f"flows/{name}.yaml", 0, {"kind": "Agent", "spec": {"resources": res}})
        return AgentSpec(
            name=name, version=version, runtime="container",
            image=f"ghcr.io/mentatlab/{name}@sha256:" + "0" * 64, module=None,
            inputs=(), outputs=(), resources=res, env=(), secrets=(), capabilities={},
            labels={}, annotations={}, doc=doc,
        )

    @staticmethod
    def flow(
        name: str,
        nodes: list[tuple[str, AgentSpec, int]],
        *,
        mode: str = "service",
        schedule: str | None = None,
        environments: tuple[str, ...] | None = None,
        regions: tuple[str, ...] | None = None,
        overrides: dict[str, Any] | None = None,
        duration: float | None = None,
        version: str = "1.0.0",
        labels: dict[str, str] | None = None,
    ) -> LinkedFlow:
        spec: dict[str, Any] = {"mode": mode}
        if duration is not None:
            spec["expectedDurationSeconds"] = duration
        doc = RawDoc(f"flows/{name}.yaml", 0, {"kind": "Flow", "spec": spec})
        fs = FlowSpec(
            name=name, version=version, mode=mode, schedule=schedule,
            environments=environments, regions=regions,
            nodes=tuple(NodeSpec(i, a.name, a.version, r, k)
                        for k, (i, a, r) in enumerate(nodes)),
            edges=(), scheduling={}, overrides=overrides or {}, labels=labels or {},
            annotations={},
            doc=doc,
        )
        return LinkedFlow(fs, tuple(LinkedNode(i, a, r) for i, a, r in nodes), ())

    @staticmethod
    def workspace(
        environments: list[dict[str, Any]],
        flows: tuple[LinkedFlow, ...] = (),
        *,
        telemetry: dict[str, Any] | None = None,
        pricing: dict[str, Any] | None = None,
        name: str = "demo",
    ) -> Workspace:
        spec: dict[str, Any] = {"sources": ["flows/"], "registries": ["ghcr.io/mentatlab"],
                                "environments": environments}
        if telemetry is not None:
            spec["telemetry"] = telemetry
        if pricing is not None:
            spec["pricing"] = pricing
        doc = RawDoc("mentat.yaml", 0, {"kind": "Workspace", "metadata": {"name": name},
                                        "spec": spec})
        ws_spec = workspace_spec(doc)  # as validate builds it, without the schema check
        agents = tuple(sorted({n.agent.key: n.agent for f in flows for n in f.nodes}.values(),
                              key=lambda a: (a.name, a.version)))
        return Workspace("/nonexistent", ws_spec, agents, flows)


@pytest.fixture
def build() -> type[Build]:
    return Build
