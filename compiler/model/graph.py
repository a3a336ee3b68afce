"""Linked flows as `link` produces them, and the whole workspace handed to later stages."""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.model.spec import AgentSpec, EdgeSpec, FlowSpec, WorkspaceSpec


@dataclass(frozen=True, slots=True)
class LinkedNode:
    id: str
    agent: AgentSpec  # the one version the node's range resolved to
    replicas: int


@dataclass(frozen=True, slots=True)
class LinkedFlow:
    flow: FlowSpec
    nodes: tuple[LinkedNode, ...]  # in topological order (sources first), ties by id
    edges: tuple[EdgeSpec, ...]  # sorted

    def node(self, node_id: str) -> LinkedNode:
        return next(n for n in self.nodes if n.id == node_id)

    def edges_into(self, node_id: str) -> tuple[EdgeSpec, ...]:
        return tuple(e for e in self.edges if e.dst_node == node_id)

    def edges_out_of(self, node_id: str) -> tuple[EdgeSpec, ...]:
        return tuple(e for e in self.edges if e.src_node == node_id)


@dataclass(frozen=True, slots=True)
class Workspace:
    """Everything the stages after `link` need: the checked workspace and its linked flows."""

    root: str  # absolute path of the workspace root
    spec: WorkspaceSpec
    agents: tuple[AgentSpec, ...]  # sorted by (name, version)
    flows: tuple[LinkedFlow, ...]  # sorted by (name, version)
    source_digests: dict[str, str] = field(default_factory=dict)  # rel path -> sha256 hex
