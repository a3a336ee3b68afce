"""Linking: version resolution, ambiguity, flow versions per environment, graph order."""

from __future__ import annotations

from pathlib import Path

from compiler.pipeline import compile_workspace

DIGEST = "b" * 64


def agent(name: str, version: str, inputs: str = "[]", outputs: str = "[{name: o, type: text}]") -> str:
    return f"""\
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: {name}, version: "{version}"}}
spec:
  runtime: container
  image: ghcr.io/mentatlab/{name}@sha256:{DIGEST}
  inputs: {inputs}
  outputs: {outputs}
  resources: {{cpu: 100m, memory: 64Mi}}
"""


def flow(name: str, ref: str, version: str = "1.0.0", envs: str = "") -> str:
    extra = f"  environments: {envs}\n" if envs else ""
    return f"""\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {{name: {name}, version: {version}, labels: {{owner: test-team}}}}
spec:
  mode: service
{extra}  nodes:
    - {{id: a, agent: "{ref}", replicas: 2}}
"""


def resolved(root: Path) -> dict[str, str]:
    result = compile_workspace(root, stop_after="link")
    assert not result.diagnostics, result.diagnostics
    assert result.workspace is not None
    return {f.flow.name: f.nodes[0].agent.version for f in result.workspace.flows}


def test_ranges_resolve_to_the_highest_match(make_ws) -> None:  # type: ignore[no-untyped-def]
    agents = "---\n".join(agent("x", v) for v in ("1.0.0", "1.2.3", "1.3.0", "2.0.0", "2.1.0-rc.1"))
    flows = "---\n".join([
        flow("caret", "x@^1.0"), flow("tilde", "x@~1.2"), flow("range", "x@>=1.0 <2"),
        flow("exact", "x@1.0.0"), flow("major", "x@^2.0"), flow("pre", "x@>=2.1.0-rc.0"),
    ])
    root = make_ws({"flows/agents.yaml": agents, "flows/flow.yaml": flows})
    assert resolved(root) == {"caret": "1.3.0", "tilde": "1.2.3", "range": "1.3.0",
                              "exact": "1.0.0", "major": "2.0.0", "pre": "2.1.0-rc.1"}


def test_versions_differing_only_in_build_metadata_are_ambiguous(make_ws) -> None:  # type: ignore[no-untyped-def]
    agents = agent("x", "1.0.0+a") + "---\n" + agent("x", "1.0.0+b")
    root = make_ws({"flows/agents.yaml": agents, "flows/flow.yaml": flow("f", "x@^1.0")})
    diags = compile_workspace(root).diagnostics
    assert [(d.code, d.line) for d in diags] == [("M300", 7)]
    assert "ambiguous" in diags[0].message and "1.0.0+a, 1.0.0+b" in diags[0].hint


def test_two_versions_of_a_flow_may_target_disjoint_environments(make_ws) -> None:  # type: ignore[no-untyped-def]
    flows = flow("f", "x@^1", "1.0.0", "[prod]") + "---\n" + flow("f", "x@^1", "2.0.0", "[staging]")
    root = make_ws({"flows/agents.yaml": agent("x", "1.0.0"), "flows/flow.yaml": flows})
    result = compile_workspace(root)
    assert result.ok, result.diagnostics
    assert "prod/us-east-1/deployment-f-a.yaml" in result.files
    assert b"mentatlab.io/version: 2.0.0" in result.files["staging/eu-west-1/deployment-f-a.yaml"]


def test_two_versions_of_a_flow_in_the_same_environment_collide(make_ws) -> None:  # type: ignore[no-untyped-def]
    flows = flow("f", "x@^1", "1.0.0") + "---\n" + flow("f", "x@^1", "2.0.0", "[staging]")
    root = make_ws({"flows/agents.yaml": agent("x", "1.0.0"), "flows/flow.yaml": flows})
    diags = compile_workspace(root).diagnostics
    assert [d.code for d in diags] == ["M301"] and "staging" in diags[0].message


def test_nodes_are_in_topological_order(make_ws) -> None:  # type: ignore[no-untyped-def]
    agents = agent("src", "1.0.0") + "---\n" + agent(
        "mid", "1.0.0", "[{name: i, type: text}]") + "---\n" + agent(
        "sink", "1.0.0", "[{name: i, type: text}, {name: j, type: text}]")
    f = """\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: g, version: 1.0.0}
spec:
  mode: service
  nodes:
    - {id: z, agent: sink@1}
    - {id: b, agent: mid@1}
    - {id: a, agent: src@1}
  edges:
    - {from: b.o, to: z.i}
    - {from: a.o, to: b.i}
    - {from: a.o, to: z.j}
"""
    root = make_ws({"flows/agents.yaml": agents, "flows/flow.yaml": f})
    result = compile_workspace(root, stop_after="link")
    assert result.workspace is not None and not result.diagnostics
    assert [n.id for n in result.workspace.flows[0].nodes] == ["a", "b", "z"]


def test_a_longer_cycle_names_every_node_once(make_ws) -> None:  # type: ignore[no-untyped-def]
    agents = agent("p", "1.0.0", "[{name: i, type: text}]") + "---\n" + agent("s", "1.0.0")
    f = """\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: c, version: 1.0.0}
spec:
  mode: stream
  nodes:
    - {id: src, agent: s@1}
    - {id: x, agent: p@1}
    - {id: y, agent: p@1}
    - {id: w, agent: p@1}
    - {id: tail, agent: p@1}
  edges:
    - {from: src.o, to: tail.i}
    - {from: x.o, to: y.i}
    - {from: y.o, to: w.i}
    - {from: w.o, to: x.i}
"""
    root = make_ws({"flows/agents.yaml": agents, "flows/flow.yaml": f})
    diags = compile_workspace(root).diagnostics
    assert [d.code for d in diags] == ["M305"]
    assert "w → x → y → w" in diags[0].message
