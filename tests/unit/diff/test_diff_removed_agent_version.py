"""An agent version removed while a flow's range still matches an older one: the flow's
workloads change image and labels; no object is added or removed."""

from __future__ import annotations

from pathlib import Path

from tests.unit.diff.diffkit import AGENTS, DIGEST_B, GitWorkspace, changes


def test_removed_agent_version_changes_the_workloads_that_used_it(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    newer = AGENTS.split("---\n")[0].replace("version: 1.0.0", "version: 1.1.0").replace(
        "a" * 64, DIGEST_B)
    ws.write("flows/fetcher-1.1.yaml", newer)
    base = ws.commit("fetcher 1.1.0")
    ws.remove("flows/fetcher-1.1.yaml")
    ws.commit("drop fetcher 1.1.0")
    doc = ws.json(base)
    assert changes(doc, "added") == [] and changes(doc, "removed") == []
    changed = changes(doc, "changed")
    assert ("prod/us-east-1", "Deployment", "digest-fetch") in changed
    diff = next(o["diff"] for o in doc["objects"]
                if o["name"] == "digest-fetch" and o["kind"] == "Deployment")
    assert f"-        image: ghcr.io/mentatlab/fetcher@sha256:{DIGEST_B}" in diff
    assert f"+        image: ghcr.io/mentatlab/fetcher@sha256:{'a' * 64}" in diff
    assert "-    mentatlab.io/version: 1.1.0" in diff or "1.1.0" in diff
    assert not any(n == "digest-sum" and k == "Deployment" for _, k, n in changed)
