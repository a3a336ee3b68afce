"""Every GitHub workflow passes GitHub's workflow JSON schema (the copy check-jsonschema
vendors from SchemaStore, a test dependency) and actionlint (the pinned build of testenv/,
from its Go module); a broken workflow fails both, so the
checks are known to bite. The pull-request and main workflows do what docs/delivery.md says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from testenv import binary

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))


def _schema_check(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", *map(str, files)],
                          capture_output=True, text=True, check=False, timeout=120)


def _actionlint() -> str:
    return str(binary("actionlint"))


def _broken(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.yml"
    bad.write_text("name: bad\non: {pull_request: {}}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - uses: actions/checkout@v4\n        run: echo both\n")
    return bad


def test_workflows_pass_githubs_schema(tmp_path: Path) -> None:
    assert {w.name for w in WORKFLOWS} >= {"ci.yml", "sign.yml"}
    done = _schema_check(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _schema_check(_broken(tmp_path)).returncode != 0


def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    tool = _actionlint()
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([tool, "-no-color", *map(str, WORKFLOWS)], capture_output=True,
                          text=True, check=False, timeout=120, cwd=REPO, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = subprocess.run([tool, "-no-color", str(_broken(tmp_path))], capture_output=True,
                         text=True, check=False, timeout=120, env=env)
    assert bad.returncode == 1 and "bad.yml" in bad.stdout


def test_pull_request_workflow_checks_then_posts_the_diff() -> None:
    doc = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    assert "pull_request" in doc[True]  # YAML 1.1 reads `on` as True
    runs = "\n".join(s.get("run", "") for s in doc["jobs"]["test"]["steps"])
    for step in ("pip install -e '.[test]'", "mentatctl validate", "mentatctl policy test",
                 "mentatctl compile --check", "npm ci", "python -m pytest"):
        assert step in runs
    diff = doc["jobs"]["diff"]
    assert diff["permissions"] == {"contents": "read", "pull-requests": "write"}
    script = "\n".join(s.get("run", "") + str(s.get("with", {}).get("script", ""))
                       for s in diff["steps"])
    assert 'mentatctl diff --base "origin/$BASE_REF" --head HEAD -o markdown' in script
    assert ".github/scripts/diff-comments.js" in script  # tests/ci/test_diff_comments.py


def test_main_workflow_publishes_the_signed_tree_from_a_separate_job() -> None:
    doc = yaml.safe_load((REPO / ".github/workflows/sign.yml").read_text())
    publish = doc["jobs"]["publish"]
    assert publish["needs"] == "sign"
    assert publish["permissions"] == {"contents": "write"}  # no id-token: it cannot sign
    runs = "\n".join(s.get("run", "") for s in publish["steps"])
    assert "git push --quiet origin deploy" in runs
