"""The wall-clock limit holds while a module waits in a host call (issue 15): a sleep in
poll_oneoff ends at the deadline, a call nothing can interrupt (a FIFO in a granted
directory) ends the `wasm run` process at it, and validate names what a module can wait on.
Runs of the CLI happen in a child process with a generous bound, so a regression fails
instead of hanging the suite (nothing here asserts on elapsed time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.wasm.run import Runner
from compiler.wasm.sandbox import Limits
from compiler.wasm.stage import check_agent_module

HOUR_NS = 3_600_000_000_000

SLEEPER = f"""(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    ;; one relative clock subscription: tag 0 at 8, clock 1 at 16, timeout at 24
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const {HOUR_NS}))
    (drop (call $poll (i32.const 0) (i32.const 100) (i32.const 1) (i32.const 200)))
    (call $exit (i32.const 0))))"""

# opens "pipe" in its one granted directory (fd 3) and reads from it: a FIFO without a
# writer blocks inside the host, where neither fuel nor epochs reach
FIFO_READER = """(module
  (import "wasi_snapshot_preview1" "path_open" (func $open
    (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "pipe")
  (func (export "_start")
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 0)
                      (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100)))
    (i32.store (i32.const 200) (i32.const 300))
    (i32.store (i32.const 204) (i32.const 16))
    (drop (call $read (i32.load (i32.const 100)) (i32.const 200) (i32.const 1) (i32.const 400)))))"""


def _agent(name: str, files: list[str] | None = None) -> str:
    caps = f"{{files: [{', '.join(files)}]}}" if files else "{}"
    return f"""\
        apiVersion: mentatlab.io/v1
        kind: Agent
        metadata: {{name: {name}, version: 1.0.0}}
        spec:
          runtime: wasm
          module: {name}.wat
          capabilities: {caps}
          outputs: [{{name: out, type: json}}]
        """


def _wasm_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler.cli", "wasm", "run", "-w", str(root),
                           *args], capture_output=True, text=True, timeout=120, check=False,
                          cwd=Path(__file__).resolve().parents[3])


def test_a_sleep_in_poll_oneoff_ends_at_the_deadline(make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent(SLEEPER, name="sleeper", module_name="sleeper.wat")
    checked, _ = check_agent_module(tmp_path, agent)
    assert checked is not None
    result = Runner().run(checked.compiled, {}, limits=Limits(timeout_ms=100))
    assert result.status == "timeout" and "poll_oneoff" in result.message


def test_a_short_sleep_still_returns(make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent(SLEEPER.replace(str(HOUR_NS), "1000"), name="nap", module_name="nap.wat")
    checked, _ = check_agent_module(tmp_path, agent)
    assert checked is not None
    result = Runner().run(checked.compiled, {}, limits=Limits(timeout_ms=5000))
    assert result.status == "output"  # it woke, exited 0 and printed nothing


def test_wasm_run_holds_timeout_ms_through_a_sleep(make_ws: Any) -> None:
    root = make_ws({"flows/sleeper.yaml": _agent("sleeper"), "flows/sleeper.wat": SLEEPER},
                   flow=None)
    done = _wasm_run(root, "sleeper", "--timeout-ms", "200", "--format", "json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["status"] == "timeout"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_wasm_run_holds_timeout_ms_through_a_blocked_read(make_ws: Any) -> None:
    root = make_ws({"flows/reader.yaml": _agent("reader", ["data"]),
                    "flows/reader.wat": FIFO_READER}, flow=None)
    (root / "flows" / "data").mkdir()
    os.mkfifo(root / "flows" / "data" / "pipe")
    done = _wasm_run(root, "reader", "--timeout-ms", "200")
    assert done.returncode == 1
    assert "reader@1.0.0: timeout" in done.stderr and "host call" in done.stderr


def test_validate_says_what_a_module_can_wait_on(make_ws: Any) -> None:
    root = make_ws({"flows/sleeper.yaml": _agent("sleeper"), "flows/sleeper.wat": SLEEPER,
                    "flows/reader.yaml": _agent("reader", ["data"]),
                    "flows/reader.wat": FIFO_READER}, flow=None)
    (root / "flows" / "data").mkdir()
    r = CliRunner().invoke(main, ["validate", str(root)])
    assert "warning[M514]" in r.stderr
    assert "poll_oneoff (a sleep" in r.stderr
    assert "fd_read (a FIFO" in r.stderr and "path_open" in r.stderr


def test_the_example_modules_wait_on_nothing(repo: Path) -> None:
    r = CliRunner().invoke(main, ["validate", str(repo)])
    assert r.exit_code == 0 and "M514" not in r.stderr
