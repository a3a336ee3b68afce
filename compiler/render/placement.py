"""Where a flow runs and with how many replicas: one answer for rendering and for cost.

A flow runs in its `spec.environments` (default: all) and, within each, in the environment's
regions restricted to the flow's `spec.regions` (default: all of them). A node's replicas
are resolved in three layers, most specific last:

1. the node's `replicas` (spec.nodes[]),
2. the flow's per-environment override `spec.overrides.<env>.nodes.<node>.replicas`,
3. the environment's per-region override in mentat.yaml:

   environments:
     - name: prod
       regionOverrides:
         eu-west-1:
           replicaFactor: 0.5              # scales layer 2, rounded up, never below 1
           flows:
             news-digest:                  # flow name (every version)
               nodes: {digest: {replicas: 1}}   # exact; wins over replicaFactor

A node scaled to 0 by layer 1 or 2 stays at 0 whatever the factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.model import Environment, LinkedFlow, LinkedNode, Workspace

__all__ = [
    "Placement",
    "check_region_overrides",
    "flow_environments",
    "flow_regions",
    "placements",
    "region_override",
    "replicas_in",
    "resources_in",
]


@dataclass(frozen=True, slots=True)
class Placement:
    env: Environment
    region: str
    flow: LinkedFlow


def flow_environments(ws: Workspace, flow: LinkedFlow) -> tuple[Environment, ...]:
    wanted = flow.flow.environments
    return tuple(e for e in ws.spec.environments if wanted is None or e.name in wanted)


def flow_regions(flow: LinkedFlow, env: Environment) -> tuple[str, ...]:
    """The environment's regions the flow runs in, in the environment's order."""
    wanted = flow.flow.regions
    return tuple(r for r in env.regions if wanted is None or r in wanted)


def placements(ws: Workspace) -> tuple[Placement, ...]:
    """Every (environment, region, flow) the workspace deploys, in a stable order."""
    return tuple(
        Placement(env, region, flow)
        for flow in ws.flows
        for env in flow_environments(ws, flow)
        for region in flow_regions(flow, env)
    )


def region_override(env: Environment, region: str) -> dict[str, Any]:
    """`environments[env].regionOverrides[region]` from mentat.yaml, or {}."""
    found = (env.extra.get("regionOverrides") or {}).get(region)
    return found if isinstance(found, dict) else {}


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def replicas_in(flow: LinkedFlow, node: LinkedNode, env: Environment, region: str) -> int:
    """The node's replica count in one environment x region (see the module docstring)."""
    replicas = node.replicas
    env_value = _get(flow.flow.overrides, env.name, "nodes", node.id, "replicas")
    if isinstance(env_value, int) and not isinstance(env_value, bool):
        replicas = env_value
    override = region_override(env, region)
    exact = _get(override, "flows", flow.flow.name, "nodes", node.id, "replicas")
    if isinstance(exact, int) and not isinstance(exact, bool):
        return exact
    factor = override.get("replicaFactor")
    if factor is None or replicas == 0:
        return replicas
    return max(1, math.ceil(Fraction(str(factor)) * replicas))


def resources_in(flow: LinkedFlow, node: LinkedNode, env: str) -> dict[str, Any]:
    """The node's resources in one environment: the flow's per-environment override wins
    field by field over the agent's own (rendered containers and cost read the same)."""
    override = _get(flow.flow.overrides, env, "nodes", node.id, "resources")
    return {**(node.agent.resources or {}), **(override if isinstance(override, dict) else {})}


def check_region_overrides(ws: Workspace) -> list[Diagnostic]:
    """Errors (M521) for region overrides naming a region, flow or node that does not exist."""
    doc = ws.spec.doc
    envs = doc.data.get("spec", {}).get("environments") or []
    diags: list[Diagnostic] = []

    def at(path: tuple[str | int, ...], message: str) -> None:
        pos = doc.pos(path, key=True)
        diags.append(Diagnostic("M521", message, doc.file, pos.line, pos.col))

    nodes_by_flow: dict[str, set[str]] = {}
    for f in ws.flows:
        nodes_by_flow.setdefault(f.flow.name, set()).update(n.id for n in f.nodes)
    for i, raw in enumerate(envs):
        if not isinstance(raw, dict) or not isinstance(raw.get("regionOverrides"), dict):
            continue
        regions = raw.get("regions") or []
        base: tuple[str | int, ...] = ("spec", "environments", i, "regionOverrides")
        for region, override in raw["regionOverrides"].items():
            if region not in regions:
                at((*base, region), f"region override for {region!r}, which environment "
                   f"{raw.get('name')!r} does not list in its regions")
            flows = override.get("flows") if isinstance(override, dict) else None
            for fname, fo in (flows or {}).items():
                if fname not in nodes_by_flow:
                    at((*base, region, "flows", fname), f"region override for unknown flow "
                       f"{fname!r}")
                    continue
                for nid in _get(fo, "nodes") or {}:
                    if nid not in nodes_by_flow[fname]:
                        at((*base, region, "flows", fname, "nodes", nid),
                           f"region override for unknown node {nid!r} of flow {fname!r}")
    return diags
