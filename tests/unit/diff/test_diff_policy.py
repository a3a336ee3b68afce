"""Policy findings that compile (warnings, waivers): those new in head and those fixed, by
rule and object, independent of the lines they moved to."""

from __future__ import annotations

from pathlib import Path

from tests.unit.diff.diffkit import WORKSPACE, GitWorkspace
from tests.unit.policy.policykit import team_rule


def test_new_and_fixed_findings(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.write("mentat.yaml", WORKSPACE + "  policies: [team-policies/]\n")
    ws.write("team-policies/r.yaml", team_rule(
        "three-replicas", "[Deployment]", "object.spec.replicas >= 3", severity="warning"))
    base = ws.commit("a warning rule: prod runs 2 replicas of each node")
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 3}")
    ws.replace("flows/flow.yaml", "mode: service", "mode: service\n  # scaled")
    ws.commit("sum to 3 in prod")
    doc = ws.json(base)
    fixed = {(f["rule"], f["object"], f["status"]) for f in doc["policy"]["fixed"]}
    assert fixed and all(r == "three-replicas" and s == "fail" for r, _, s in fixed)
    assert all("sum" in o for _, o, _ in fixed)
    assert doc["policy"]["new"] == []  # fetch still fails, on a moved line: not new
    md = ws.run("--base", base, "-o", "markdown").stdout
    assert "| fixed fail | `three-replicas` | warning |" in md
