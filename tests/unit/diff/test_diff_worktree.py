"""The diff reads both commits from git: uncommitted edits, the index and the checkout are
left exactly as they were, and the workspace's incremental cache is reused."""

from __future__ import annotations

from pathlib import Path

from tests.unit.diff.diffkit import GitWorkspace


def test_working_tree_and_index_untouched(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 4}")
    ws.commit("scale")
    ws.replace("flows/flow.yaml", "sum: {replicas: 4}", "sum: {replicas: 5}")  # uncommitted
    ws.write("flows/new.yaml", "# untracked\n")
    ws.git("add", "platform/flows/new.yaml")
    status, head = ws.git("status", "--porcelain"), ws.git("rev-parse", "HEAD")
    doc = ws.json("main~1")
    # the diff is of the commits: 2 -> 4, not the edit in the working tree
    deployments = [o for o in doc["objects"] if o["kind"] == "Deployment"]
    assert len(deployments) == 2 and all("+  replicas: 4" in o["diff"] for o in deployments)
    assert not any("replicas: 5" in o["diff"] for o in doc["objects"])
    assert ws.git("status", "--porcelain") == status
    assert ws.git("rev-parse", "HEAD") == head
    assert "replicas: 5" in ws.read("flows/flow.yaml")
    assert ws.git("worktree", "list").count("\n") == 0  # no worktree left behind


def test_cache_is_shared_and_reused(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 3}")
    ws.commit("scale")
    first = ws.json("main~1")
    entries = sorted(p.relative_to(ws.root) for p in (ws.root / ".mentat/cache").rglob("*")
                     if p.is_file())
    assert entries, "the diff stored its compiles' entries in the workspace's cache"
    assert ws.json("main~1") == first  # warm: the same report
    out = ws.run("--base", "main~1", "--no-cache", "-o", "json")
    assert out.exit_code == 0 and out.stdout == ws.run("--base", "main~1", "-o", "json").stdout
