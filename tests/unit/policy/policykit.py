"""Team policies the policy and cache tests share."""

from __future__ import annotations

from typing import Any

from tests.conftest import FLOW, WORKSPACE

POLICIES = WORKSPACE + "  policies: [team-policies/]\n"


def team_rule(rid: str, kinds: str, expression: str, severity: str = "error") -> str:
    return ("apiVersion: mentatlab.io/v1\nkind: PolicyRule\n"
            f"metadata: {{name: {rid}}}\nspec:\n  description: team rule {rid}\n"
            f"  severity: {severity}\n  match: {{kinds: {kinds}}}\n"
            f"  expression: \"{expression}\"\n  message: {rid} says no\n")


def waived_workspace(make_ws: Any) -> Any:
    """A team rule every Deployment breaks, waived by the flow's annotation."""
    rule = team_rule("three-replicas", "[Deployment]", "object.spec.replicas >= 3")
    flow = FLOW.replace("labels: {owner: test-team}",
                        "labels: {owner: test-team},\n  annotations: "
                        "{mentatlab.io/waive-three-replicas: \"two are enough here\"}")
    return make_ws({"team-policies/r.yaml": rule}, workspace=POLICIES, flow=flow)
