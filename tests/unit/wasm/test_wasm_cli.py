"""`mentatctl wasm run`: outputs, limits, exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from compiler.cli import main

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["wasm", "run", "-w", str(REPO), *args])
    return r.exit_code, r.stdout, r.stderr


def test_prints_outputs() -> None:
    code, out, _ = run("uppercase", "--input", "text=make it loud")
    assert code == 0 and json.loads(out) == {"upper": "MAKE IT LOUD"}


def test_version_pinned_and_json_format() -> None:
    code, out, _ = run("wordcount@1.0.0", "-i", "text=one two", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["ok"] and payload["outputs"] == {"words": 2}
    assert payload["agent"] == "wordcount@1.0.0" and payload["fuelUsed"] > 0


def test_input_from_file(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("a b c d")
    code, out, _ = run("wordcount", "-i", f"text=@{tmp_path / 'in.txt'}")
    assert code == 0 and json.loads(out) == {"words": 4}


def test_limit_hit_exits_1_with_a_message() -> None:
    code, out, err = run("wordcount", "-i", "text=x", "--fuel", "50")
    assert code == 1 and out == ""
    assert "wordcount@1.0.0: fuel: fuel limit of 50 exhausted" in err
    code, out, _ = run("wordcount", "-i", "text=x", "--fuel", "50", "--format", "json")
    assert code == 1 and json.loads(out)["status"] == "fuel"


FAILING = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 40)
  (data (i32.const 64) "boom: bad input")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 15))
    (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 4))))"""


def test_module_failure_shows_its_stderr(make_ws: Any) -> None:
    root = make_ws({
        "flows/f.yaml": """\
            apiVersion: mentatlab.io/v1
            kind: Agent
            metadata: {name: f, version: 1.0.0}
            spec:
              runtime: wasm
              module: f.wat
              outputs: [{name: out, type: json}]
            """,
        "flows/f.wat": FAILING,
    }, flow=None)
    r = CliRunner().invoke(main, ["wasm", "run", "-w", str(root), "f"])
    assert r.exit_code == 1
    assert "boom: bad input" in r.stderr and "exited with code 4" in r.stderr
    # 40 pages of initial memory do not fit in 1 MiB: refused at instantiation
    r = CliRunner().invoke(main, ["wasm", "run", "-w", str(root), "f", "--memory-mb", "1"])
    assert r.exit_code == 1 and "f@1.0.0: memory: memory limit of 1048576 bytes" in r.stderr


def test_forbidden_import_exits_1_with_the_diagnostic(make_ws: Any) -> None:
    root = make_ws({
        "flows/bad.yaml": """\
            apiVersion: mentatlab.io/v1
            kind: Agent
            metadata: {name: bad, version: 1.0.0}
            spec:
              runtime: wasm
              module: bad.wat
              outputs: [{name: out, type: json}]
            """,
        "flows/bad.wat": '(module (import "env" "spawn" (func)) (memory (export "memory") 1)'
                         ' (func (export "_start")))',
    }, flow=None)
    r = CliRunner().invoke(main, ["wasm", "run", "-w", str(root), "bad"])
    assert r.exit_code == 1
    assert "flows/bad.yaml:6:" in r.stderr and "error[M511]" in r.stderr and "env.spawn" in r.stderr


def test_usage_errors_exit_2() -> None:
    assert run("no-such-agent")[0] == 2
    code, _, err = run("fetcher")
    assert code == 2 and "container agent" in err
    assert run("uppercase")[0] == 2  # missing --input text
    assert run("uppercase", "-i", "nope=1")[0] == 2
    assert run("uppercase", "-i", "text=x", "--fuel", "0")[0] == 2
    r = CliRunner().invoke(main, ["wasm", "run", "-w", "/", "uppercase"])
    assert r.exit_code == 2


def test_agent_with_schema_errors_exits_1(make_ws: Any) -> None:
    root = make_ws({
        "flows/broken.yaml": """\
            apiVersion: mentatlab.io/v1
            kind: Agent
            metadata: {name: broken, version: 1.0.0}
            spec:
              runtime: wasm
              module: broken.wat
              outputs: [{name: out, type: json}]
              colour: blue
            """,
    }, flow=None)
    r = CliRunner().invoke(main, ["wasm", "run", "-w", str(root), "broken"])
    assert r.exit_code == 1
    assert "flows/broken.yaml:8:" in r.stderr and "colour" in r.stderr
