"""`python -m testenv up` prints a working KUBECONFIG; `down` stops every process it started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testenv import binary

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]


def _testenv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "testenv", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_up_then_down(tmp_path: Path) -> None:
    run = tmp_path / "run"
    up = _testenv("up", "--dir", str(run))
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = up.stdout.strip()
        assert kubeconfig == str(run / "admin.kubeconfig")
        nodes = subprocess.run([str(binary("kubectl")), "--kubeconfig", kubeconfig, "get",
                                "nodes", "-o", "json"], capture_output=True, text=True,
                               check=True).stdout
        ready = [n for n in json.loads(nodes)["items"]
                 if any(c["type"] == "Ready" and c["status"] == "True"
                        for c in n["status"]["conditions"])]
        assert len(ready) == 3
        pids = json.loads((run / "state.json").read_text())["pids"].values()
        again = _testenv("up", "--dir", str(run))
        assert again.returncode == 2 and "already up" in again.stderr
    finally:
        down = _testenv("down", "--dir", str(run))
    assert down.returncode == 0, down.stderr
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert not run.exists()
