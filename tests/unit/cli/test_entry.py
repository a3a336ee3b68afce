"""The console entry (which skips interpreter teardown) keeps exit codes and output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.generate import generate

REPO = Path(__file__).resolve().parents[3]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_exit_codes_and_output_survive_the_fast_exit(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    generate(100, ws, seed=2)
    ok = _run("compile", str(ws))
    assert ok.returncode == 0 and "compiled" in ok.stderr
    assert (ws / "rendered" / "index.json").is_file()
    flow = sorted((ws / "flows").glob("group-*/flow-*.yaml"))[0]
    flow.write_text(flow.read_text().replace("mode:", "mood:"))
    bad = _run("compile", str(ws), "--format", "json")
    assert bad.returncode == 1 and '"M202"' in bad.stdout
    assert _run("compile", str(ws), "--no-such-flag").returncode == 2
    assert _run("compile", str(tmp_path / "nowhere")).returncode == 2


def test_apply_keeps_its_output_audit_and_attestation_through_the_fast_exit(tmp_path: Path) -> None:
    """`apply` skips the teardown too: a refused apply (an unsigned tree, refused before any
    cluster is reached) still exits 1 with its whole JSON result, its audit entry and its
    attestation written."""
    ws = tmp_path / "ws"
    generate(100, ws, seed=3)
    assert _run("compile", str(ws)).returncode == 0
    assert _run("pki", "init", str(tmp_path / "pki")).returncode == 0
    audit, att = tmp_path / "audit.jsonl", tmp_path / "att.json"
    done = _run("apply", str(ws / "rendered"), "--env", "staging", "--region", "eu-west-1",
                "--trust", str(tmp_path / "pki" / "root.pem"), "--kubeconfig", str(tmp_path / "none"),
                "--audit-log", str(audit), "--attestation-out", str(att), "-o", "json")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["result"] == "refused" and result["audit"]["seq"] == 1
    assert len(audit.read_text().splitlines()) == 1
    assert json.loads(att.read_text())["predicateType"] == "https://mentatlab.io/attestation/apply/v1"
