"""`mentatctl controller`: reconciles a source directory on an interval, answers /healthz,
/readyz and /metrics, and on SIGTERM finishes its step and exits 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.controller.kit import ENV, REGION, Kit, configmap, namespace


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def test_controller_loop_probes_metrics_and_sigterm(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a")])
    port = _port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "compiler.cli", "controller", "--source", str(tree), "--env", ENV,
         "--region", REGION, "--trust", str(kit.root), "--kubeconfig", str(kit.kubeconfig),
         "--interval", "1s", "--listen", f"127.0.0.1:{port}", "--audit-log", str(kit.tmp / "audit.jsonl")],
        cwd=kit.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while _get(base + "/readyz")[0] != 200:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "never ready"
            time.sleep(0.5)
        assert _get(base + "/healthz") == (200, "ok\n")
        while 'mentat_reconcile_total{result="succeeded"} 2.0' not in _get(base + "/metrics")[1]:
            assert time.monotonic() < deadline, "no second reconcile"
            time.sleep(0.5)
        assert kit.get("cm", "a") is not None
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "signal 15: finishing the current step, then exiting" in stderr
    entries = [json.loads(line) for line in (kit.tmp / "audit.jsonl").read_text().splitlines()]
    assert len(entries) >= 2 and entries[0]["event"]["result"] == "succeeded"
    assert kit.cli("audit", "verify", str(kit.tmp / "audit.jsonl")).returncode == 0
