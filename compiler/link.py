"""Stage 3, link: resolve agent references to one version each, type-check edges and build
every flow's graph (topological order, cycles reported with the node ids on the cycle).

Everything is indexed once (agents by name, edges by node), so the cost is linear in the
size of the workspace: no pairwise comparisons.
"""

from __future__ import annotations

import difflib
import heapq
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import semantic_version

from compiler.diagnostics import Diagnostic
from compiler.model.graph import LinkedFlow, LinkedNode, Workspace
from compiler.model.ranges import in_range, parse_version, version_range
from compiler.model.raw import RawDoc
from compiler.model.spec import AgentSpec, EdgeSpec, FlowSpec, WorkspaceSpec

__all__ = ["link"]


def _at(doc: RawDoc, path: tuple[Any, ...], code: str, msg: str, hint: str = "") -> Diagnostic:
    p = doc.pos(path)
    return Diagnostic(code, msg, doc.file, p.line, p.col, hint=hint)


def _where(doc: RawDoc) -> str:
    p = doc.pos()
    return f"{doc.file}:{p.line}"


def link(
    root: str,
    spec: WorkspaceSpec,
    agents: Sequence[AgentSpec],
    flows: Sequence[FlowSpec],
    digests: dict[str, str] | None = None,
    broken: frozenset[str] | set[str] = frozenset(),
) -> tuple[Workspace, list[Diagnostic]]:
    """`broken`: agent names with a document that failed validation (already reported); a
    reference to one that does not resolve is not reported again."""
    diags: list[Diagnostic] = []
    by_name = _index_agents(agents, diags)
    _check_flow_versions(spec, flows, diags)
    linked = []
    for flow in sorted(flows, key=lambda f: (f.name, parse_version(f.version))):
        lf = _link_flow(spec, flow, by_name, diags, broken)
        if lf is not None:
            linked.append(lf)
    ws = Workspace(
        root=root,
        spec=spec,
        agents=tuple(sorted(agents, key=lambda a: (a.name, parse_version(a.version)))),
        flows=tuple(linked),
        source_digests=dict(digests or {}),
    )
    return ws, diags


def _index_agents(
    agents: Sequence[AgentSpec], diags: list[Diagnostic]
) -> dict[str, dict[semantic_version.Version, list[AgentSpec]]]:
    by_name: dict[str, dict[semantic_version.Version, list[AgentSpec]]] = defaultdict(dict)
    for a in agents:
        by_name[a.name].setdefault(parse_version(a.version), []).append(a)
    for versions in by_name.values():
        for defs in versions.values():
            for later in defs[1:]:
                first = defs[0]
                diags.append(_at(later.doc, ("metadata", "name"), "M301",
                                 f"agent {later.key} is already defined at {_where(first.doc)}",
                                 hint="bump metadata.version or remove one definition"))
    return by_name


def _check_flow_versions(spec: WorkspaceSpec, flows: Sequence[FlowSpec],
                         diags: list[Diagnostic]) -> None:
    """A flow may exist in several versions only when they deploy to disjoint environments
    (v2 in staging while v1 stays in prod); otherwise their objects would collide."""
    all_envs = tuple(e.name for e in spec.environments)
    seen: dict[str, list[FlowSpec]] = defaultdict(list)
    for f in flows:
        for other in seen[f.name]:
            if other.version == f.version:
                diags.append(_at(f.doc, ("metadata", "name"), "M301",
                                 f"flow {f.key} is already defined at {_where(other.doc)}"))
                continue
            common = set(f.environments or all_envs) & set(other.environments or all_envs)
            if common:
                diags.append(_at(f.doc, ("metadata", "name"), "M301",
                                 f"flow {f.name} is also defined as version {other.version} at "
                                 f"{_where(other.doc)}, both deploying to {', '.join(sorted(common))}",
                                 hint="give each version its own spec.environments"))
        seen[f.name].append(f)


def _precedence(v: semantic_version.Version) -> tuple[Any, ...]:
    return (v.major, v.minor, v.patch, v.prerelease)


def _resolve(
    flow: FlowSpec,
    i: int,
    name: str,
    rng: str,
    by_name: dict[str, dict[semantic_version.Version, list[AgentSpec]]],
    diags: list[Diagnostic],
    broken: frozenset[str] | set[str] = frozenset(),
) -> AgentSpec | None:
    path = ("spec", "nodes", i, "agent")
    if name in broken:  # a follow-on of that agent's own error: only resolve if it can
        diags = []
    versions = by_name.get(name)
    if not versions:
        guess = difflib.get_close_matches(name, list(by_name), n=1)
        hint = f"did you mean '{guess[0]}'?" if guess else "no agent of that name in the workspace"
        diags.append(_at(flow.doc, path, "M300", f"agent '{name}' is not defined", hint))
        return None
    if version_range(rng) is None:
        return None  # validate reported it
    matching = [v for v in versions if in_range(v, rng)]
    if not matching:
        avail = ", ".join(str(v) for v in sorted(versions))
        diags.append(_at(flow.doc, path, "M300", f"no version of agent '{name}' matches '{rng}'",
                         f"available: {avail}"))
        return None
    best = max(matching)
    # Versions differing only in build metadata have equal precedence: no single highest one.
    ties = sorted(str(v) for v in matching if _precedence(v) == _precedence(best))
    if len(ties) > 1 or len(versions[best]) > 1:
        which = ", ".join(ties) if len(ties) > 1 else f"{best} (defined twice)"
        diags.append(_at(flow.doc, path, "M300", f"agent reference '{name}@{rng}' is ambiguous",
                         f"it matches {which}"))
        return None
    return versions[best][0]


def _link_flow(
    spec: WorkspaceSpec,
    flow: FlowSpec,
    by_name: dict[str, dict[semantic_version.Version, list[AgentSpec]]],
    diags: list[Diagnostic],
    broken: frozenset[str] | set[str] = frozenset(),
) -> LinkedFlow | None:
    before = len(diags)
    _check_environments(spec, flow, diags)
    nodes: dict[str, LinkedNode] = {}
    for n in flow.nodes:
        agent = _resolve(flow, n.index, n.agent, n.range, by_name, diags, broken)
        if agent is not None and n.id not in nodes:
            nodes[n.id] = LinkedNode(n.id, agent, n.replicas)
    resolved = len(nodes) == len({n.id for n in flow.nodes})
    edges = _check_edges(flow, nodes, diags) if resolved else []
    if resolved and len(diags) == before:
        order = _topological(flow, list(nodes), edges, diags)
        if order is not None:
            return LinkedFlow(flow, tuple(nodes[i] for i in order), tuple(
                sorted(edges, key=lambda e: (e.src_node, e.src_pin, e.dst_node, e.dst_pin))))
    return None


def _check_environments(spec: WorkspaceSpec, flow: FlowSpec, diags: list[Diagnostic]) -> None:
    names = [e.name for e in spec.environments]
    for i, env in enumerate(flow.environments or ()):
        if env not in names:
            diags.append(_at(flow.doc, ("spec", "environments", i), "M307",
                             f"unknown environment '{env}'", f"environments: {', '.join(names)}"))
    targets = [e for e in spec.environments if e.name in (flow.environments or names)]
    regions = {r for e in targets for r in e.regions}
    for i, r in enumerate(flow.regions or ()):
        if r not in regions:
            diags.append(_at(flow.doc, ("spec", "regions", i), "M307",
                             f"region '{r}' is not a region of this flow's environments",
                             f"regions: {', '.join(sorted(regions))}"))
    node_ids = {n.id for n in flow.nodes}
    for env, override in flow.overrides.items():
        if env not in names:
            diags.append(_at(flow.doc, ("spec", "overrides", env), "M307",
                             f"override for unknown environment '{env}'"))
        for node_id in (override or {}).get("nodes", {}):
            if node_id not in node_ids:
                guess = difflib.get_close_matches(node_id, sorted(node_ids), n=1)
                diags.append(_at(flow.doc, ("spec", "overrides", env, "nodes", node_id), "M308",
                                 f"override for unknown node '{node_id}'",
                                 f"did you mean '{guess[0]}'?" if guess else ""))


def _check_edges(flow: FlowSpec, nodes: dict[str, LinkedNode],
                 diags: list[Diagnostic]) -> list[EdgeSpec]:
    good: list[EdgeSpec] = []
    fed: dict[tuple[str, str], list[EdgeSpec]] = defaultdict(list)
    # An input that a broken edge aims at (or near: a misspelt pin) is not reported again as
    # unconnected: one mistake, one diagnostic.
    aimed = {(e.dst_node, e.dst_pin) for e in flow.edges}
    for e in flow.edges:
        dst = nodes.get(e.dst_node)
        if dst is not None and dst.agent.input(e.dst_pin) is None:
            aimed |= {(e.dst_node, p.name) for p in dst.agent.inputs}
    for e in flow.edges:
        src, dst = nodes.get(e.src_node), nodes.get(e.dst_node)
        ok = True
        for end, node, node_id, pin, outputs in (
            ("from", src, e.src_node, e.src_pin, True),
            ("to", dst, e.dst_node, e.dst_pin, False),
        ):
            path = ("spec", "edges", e.index, end)
            if node is None:
                guess = difflib.get_close_matches(node_id, sorted(nodes), n=1)
                diags.append(_at(flow.doc, path, "M302", f"edge {end} unknown node '{node_id}'",
                                 f"did you mean '{guess[0]}'?" if guess else ""))
                ok = False
                continue
            pins = node.agent.outputs if outputs else node.agent.inputs
            if not any(p.name == pin for p in pins):
                kind = "output" if outputs else "input"
                names = [p.name for p in pins]
                guess = difflib.get_close_matches(pin, names, n=1)
                hint = f"did you mean '{guess[0]}'?" if guess else (
                    f"{kind} pins of {node.agent.key}: {', '.join(names) or 'none'}")
                diags.append(_at(flow.doc, path, "M302",
                                 f"agent {node.agent.key} (node '{node_id}') has no {kind} pin '{pin}'",
                                 hint))
                ok = False
        if not ok or src is None or dst is None:
            continue
        out_pin, in_pin = src.agent.output(e.src_pin), dst.agent.input(e.dst_pin)
        assert out_pin is not None and in_pin is not None
        if out_pin.type != in_pin.type:
            diags.append(_at(flow.doc, ("spec", "edges", e.index), "M303",
                             f"edge {e.src_node}.{e.src_pin} ({out_pin.type}) → "
                             f"{e.dst_node}.{e.dst_pin} ({in_pin.type}): pin types differ"))
            continue
        fed[(e.dst_node, e.dst_pin)].append(e)
        good.append(e)
    for n in flow.nodes:
        node = nodes[n.id]
        for in_pin in node.agent.inputs:
            feeding = fed.get((n.id, in_pin.name), [])
            if not feeding and (n.id, in_pin.name) not in aimed:
                diags.append(_at(flow.doc, ("spec", "nodes", n.index), "M304",
                                 f"input pin '{in_pin.name}' of node '{n.id}' is not connected",
                                 f"add an edge {{from: NODE.PIN, to: {n.id}.{in_pin.name}}}"))
            for extra in feeding[1:]:
                diags.append(_at(flow.doc, ("spec", "edges", extra.index), "M309",
                                 f"input pin '{n.id}.{in_pin.name}' is already fed by edge "
                                 f"{feeding[0].index + 1}"))
    return good


def _topological(flow: FlowSpec, node_ids: list[str], edges: list[EdgeSpec],
                 diags: list[Diagnostic]) -> list[str] | None:
    succ: dict[str, set[str]] = {n: set() for n in node_ids}
    indeg = dict.fromkeys(node_ids, 0)
    for e in edges:
        if e.dst_node not in succ[e.src_node]:
            succ[e.src_node].add(e.dst_node)
            indeg[e.dst_node] += 1
    ready = [n for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for m in sorted(succ[n]):
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(ready, m)
    if len(order) == len(node_ids):
        return order
    pred: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        pred[e.dst_node].add(e.src_node)
    cycle = _find_cycle({n for n in node_ids if indeg[n] > 0}, pred)
    first = next(e for e in edges if e.src_node == cycle[0] and e.dst_node == cycle[1])
    diags.append(_at(flow.doc, ("spec", "edges", first.index), "M305",
                     f"flow {flow.name} has a cycle: {' → '.join([*cycle, cycle[0]])}",
                     "a flow must be acyclic; remove one of these edges"))
    return None


def _find_cycle(left: set[str], pred: dict[str, set[str]]) -> list[str]:
    """One cycle among the nodes Kahn's algorithm could not order. Each of them still has a
    predecessor among them, so walking predecessors must come back to a node seen before."""
    path: list[str] = []
    index: dict[str, int] = {}
    n = min(left)
    while n not in index:
        index[n] = len(path)
        path.append(n)
        n = min(m for m in pred[n] if m in left)
    cycle = path[index[n]:][::-1]  # predecessor walk, reversed into edge direction
    k = cycle.index(min(cycle))
    return cycle[k:] + cycle[:k]
