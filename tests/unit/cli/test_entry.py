"""The console entry (which skips interpreter teardown) keeps exit codes and output."""

from __future__ import annotations

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
