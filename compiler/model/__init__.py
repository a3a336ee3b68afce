"""Typed values passed between stages.

`raw` holds what `load` produces (documents as plain data plus the position of every node);
`spec` holds what `validate` produces (typed, checked specs — never re-checked downstream);
`graph` holds what `link` produces (resolved agents, typed edges, topological order);
`rendered` holds what `wasm` and `render` produce (objects as data, files as bytes).
"""

from compiler.model.graph import LinkedFlow, LinkedNode, Workspace
from compiler.model.raw import Pos, RawDoc
from compiler.model.rendered import Artifact, K8sObject, Rendered, WasmBundle
from compiler.model.spec import (
    DEFAULT_KUBERNETES_VERSION,
    AgentSpec,
    Environment,
    FlowSpec,
    NodeSpec,
    Pin,
    Pricing,
    Sampling,
    Storage,
    Telemetry,
    WorkspaceSpec,
)

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "AgentSpec",
    "Artifact",
    "Environment",
    "FlowSpec",
    "K8sObject",
    "LinkedFlow",
    "LinkedNode",
    "NodeSpec",
    "Pin",
    "Pos",
    "Pricing",
    "RawDoc",
    "Rendered",
    "Sampling",
    "Storage",
    "Telemetry",
    "WasmBundle",
    "Workspace",
    "WorkspaceSpec",
]
