"""A flow added on a branch: its objects appear as added in every environment/region it
deploys to, with their full YAML, and nothing else changes."""

from __future__ import annotations

from pathlib import Path

from tests.unit.diff.diffkit import FLOW, GitWorkspace, changes


def test_added_flow_is_reported_per_target(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.write("flows/second.yaml", FLOW.replace("name: digest", "name: briefing")
             + "  environments: [prod]\n")
    ws.commit("add briefing")
    doc = ws.json("main~1")
    added = changes(doc, "added")
    assert ("prod/us-east-1", "Deployment", "briefing-fetch") in added
    assert ("prod/eu-west-1", "Service", "briefing-sum") in added
    assert not any(t.startswith("staging/") for t, _, _ in added)
    assert changes(doc, "removed") == []
    assert {t for t, _, _ in changes(doc, "changed")} <= {"prod/us-east-1", "prod/eu-west-1"}
    dep = next(o for o in doc["objects"] if o["name"] == "briefing-fetch"
               and o["target"] == "prod/us-east-1" and o["kind"] == "Deployment")
    assert "+kind: Deployment\n" in dep["diff"]
    assert doc["summary"]["added"] == len(added)
    assert {t["target"] for t in doc["targets"]} >= {"prod/us-east-1", "prod/eu-west-1"}
