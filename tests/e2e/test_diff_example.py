"""The example workspace in a git repository: a pull request that scales the news digest's
summarizer in prod shows exactly those Deployments and the graphs that record replicas, the
flow's cost delta, and the head's tree digest equals the one `compile` writes for it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from compiler.cli import main

REPO = Path(__file__).resolve().parents[2]
ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull,
       "GIT_CONFIG_NOSYSTEM": "1"}


def _git(where: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True,
                   env={**os.environ, **ENV})


def test_example_pull_request_diff(tmp_path: Path) -> None:
    ws = tmp_path / "platform"
    ws.mkdir()
    shutil.copy(REPO / "mentat.yaml", ws)
    shutil.copytree(REPO / "flows", ws / "flows")
    shutil.copytree(REPO / "rendered", ws / "rendered")  # committed, as in this repository
    (ws / ".gitignore").write_text(".mentat/\n")
    _git(ws, "init", "-q", "-b", "main")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "example")
    flow = ws / "flows/flows/news-digest.yaml"
    text = flow.read_text()
    assert "digest: {replicas: 2}" in text
    flow.write_text(text.replace("digest: {replicas: 2}", "digest: {replicas: 4}"))
    _git(ws, "commit", "-q", "-am", "more summarizers in prod")
    out = CliRunner().invoke(main, ["diff", str(ws), "--base", "main~1", "--format", "json"],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    changed = {(o["target"], o["kind"], o["name"]) for o in doc["objects"]}
    assert {o["op"] for o in doc["objects"]} == {"changed"}
    assert {k for _, k, _ in changed} <= {"CronJob", "ConfigMap"}
    assert {t for t, _, _ in changed} == {"prod/us-east-1", "prod/eu-west-1", "prod/ap-southeast-1"}
    (cost,) = doc["cost"]["flows"]
    assert cost["flow"] == "news-digest" and Decimal(cost["delta"]) > 0
    assert doc["policy"] == {"new": [], "fixed": []}
    compiled = CliRunner().invoke(main, ["compile", str(ws)], catch_exceptions=False)
    assert compiled.exit_code == 0, compiled.output
    index = (ws / "rendered/index.json").read_bytes()
    assert doc["head"]["treeDigest"] == "sha256:" + hashlib.sha256(index).hexdigest()
