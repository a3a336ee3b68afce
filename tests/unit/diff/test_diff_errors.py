"""A ref that names no commit and a commit that does not compile: exit 1, a message naming
the ref (and, for a failed compile, its diagnostics), in text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.diff.diffkit import GitWorkspace


def test_nonexistent_base_ref(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    out = ws.run("--base", "no-such-branch")
    assert out.exit_code == 1
    assert "base ref 'no-such-branch' does not name a commit" in out.stderr
    doc = json.loads(ws.run("--base", "no-such-branch", "-o", "json").stdout)
    assert doc["ok"] is False and "no-such-branch" in doc["error"]


def test_nonexistent_head_ref(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    out = ws.run("--base", "main", "--head", "v9.9.9")
    assert out.exit_code == 1
    assert "head ref 'v9.9.9' does not name a commit" in out.stderr


def test_option_looking_ref_is_refused(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    out = ws.run("--base=--output=/tmp/x")
    assert out.exit_code == 1 and "is not a git ref" in out.stderr


def test_head_that_fails_to_compile(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.replace("flows/flow.yaml", "to: sum.text", "to: sum.txt")
    sha = ws.commit("typo")
    out = ws.run("--base", "main~1", "--head", "main")
    assert out.exit_code == 1
    assert f"head ref 'main' (commit {sha[:12]}) does not compile (1 error(s))" in out.stderr
    assert "flows/flow.yaml:" in out.stderr and "error[M302]" in out.stderr
    doc = json.loads(ws.run("--base", "main~1", "--head", "main", "-o", "json").stdout)
    assert doc["ok"] is False and [d["code"] for d in doc["diagnostics"]] == ["M302"]


def test_base_without_a_workspace(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    (ws.top / "README").write_text("x")
    ws.git("add", "README")
    ws.git("commit", "-q", "-m", "readme")
    ws.git("checkout", "-q", "--orphan", "empty")
    ws.git("rm", "-rq", "--cached", ".")
    ws.git("add", "README")
    ws.git("commit", "-q", "-m", "only a readme")
    ws.git("checkout", "-q", "-f", "main")
    out = ws.run("--base", "empty")
    assert out.exit_code == 1
    assert "base ref 'empty'" in out.stderr and "has no mentat.yaml in platform" in out.stderr
