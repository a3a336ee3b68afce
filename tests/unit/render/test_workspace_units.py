"""What the compiler renders for the whole workspace (the CRDs, the telemetry collectors, the
admission policies) is cached as units, as each flow's objects are: a flow edit reuses them,
and an edit to what they read renders them again, giving the bytes of a cold compile."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from compiler.cache import Cache
from compiler.cache.units import is_cached
from compiler.cli import main
from compiler.pipeline import compile_workspace
from tests.conftest import FLOW, WORKSPACE, MakeWs
from tests.unit.write.treekit import tree_of

TELEMETRY = f"""\
  telemetry:
    endpoint: "http://otel-backend.observability:4317"
    collectorImage: ghcr.io/mentatlab/otel@sha256:{"c" * 64}
    sampling: {{ratio: 0.1}}
"""
RULES = """\
apiVersion: mentatlab.io/v1
kind: PolicyRule
metadata: {name: team-label}
spec:
  description: Every Deployment has labels.
  severity: error
  enforce: true
  match: {kinds: [Deployment]}
  expression: has(object.metadata.labels)
  message: every Deployment has labels
"""
WITH_RULES = WORKSPACE + TELEMETRY + "  policies: [rules/]\n"


def _compile(ws: Path, *args: str) -> None:
    result = CliRunner().invoke(main, ["compile", str(ws), *args])
    assert result.exit_code == 0, result.output


def _equals_cold(ws: Path) -> None:
    """The incremental compile of `ws` as it is now writes what a compile without cache does."""
    _compile(ws)
    cold = ws.parent / "cold"
    shutil.rmtree(cold, ignore_errors=True)
    _compile(ws, "--no-cache", "--out", str(cold))
    assert tree_of(ws / "rendered") == tree_of(cold)


def _workspace_level(ws: Path) -> dict[str, bool]:
    """Each workspace-level object of a compile with the cache: whether it came from it."""
    cache = Cache(ws)
    result = compile_workspace(ws, memos=cache.memos)
    assert result.ok and result.rendered is not None, result.diagnostics
    return {f"{o.dir}/{o.kind}/{o.name}": is_cached(o) for o in result.rendered.objects
            if o.dir in ("crds", "policies") or "collector" in o.name}


def test_a_flow_edit_reuses_them(make_ws: MakeWs) -> None:
    ws = make_ws({"rules/team.yaml": RULES}, workspace=WITH_RULES)
    _compile(ws)
    (ws / "flows/flow.yaml").write_text(FLOW.replace("owner: test-team", "owner: other-team"))
    found = _workspace_level(ws)
    assert {k.split("/")[0] for k in found} == {"crds", "policies", "prod", "staging"}
    assert all(found.values()), [k for k, cached in found.items() if not cached]
    _equals_cold(ws)


def test_an_edit_to_a_rule_file_renders_the_admission_policies_again(make_ws: MakeWs) -> None:
    ws = make_ws({"rules/team.yaml": RULES}, workspace=WITH_RULES)
    _compile(ws)
    rules = ws / "rules/team.yaml"
    rules.write_text(RULES.replace("has labels", "must have labels"))
    found = _workspace_level(ws)
    assert not any(cached for k, cached in found.items() if k.startswith("policies/"))
    assert all(cached for k, cached in found.items() if not k.startswith("policies/"))
    _equals_cold(ws)
    policy = (ws / "rendered/policies").glob("*team-label*.yaml")
    assert any(b"must have labels" in p.read_bytes() for p in policy)


def test_a_flow_moving_to_another_region_renders_the_collectors_again(make_ws: MakeWs) -> None:
    # one flow, in prod's us-east-1 only: the only leaves with collectors are its own
    ws = make_ws(workspace=WORKSPACE + TELEMETRY,
                 flow=FLOW.replace("  mode: service\n", "  mode: service\n  regions: [us-east-1]\n"))
    _compile(ws)
    assert not (ws / "rendered/prod/eu-west-1").exists()
    flow = ws / "flows/flow.yaml"
    flow.write_text(flow.read_text().replace("regions: [us-east-1]", "regions: [eu-west-1]"))
    _equals_cold(ws)
    assert not (ws / "rendered/prod/us-east-1").exists()
    assert any("collector" in p.name for p in (ws / "rendered/prod/eu-west-1").iterdir())
