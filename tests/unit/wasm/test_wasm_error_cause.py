"""A host call's error keeps its cause (issue 15: "Int conversion error" was dropped, the
message ending at wasmtime's headline "error while executing at wasm backtrace:")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.wasm.module import summarize_error
from compiler.wasm.run import Runner
from compiler.wasm.sandbox import Limits
from compiler.wasm.stage import check_agent_module

GREEDY = """(module
  (import "wasi_snapshot_preview1" "random_get" (func $rg (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $rg (i32.const 0) (i32.const -1)))))"""


def test_a_failing_host_call_says_why(make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent(GREEDY, name="greedy", module_name="greedy.wat")
    checked, _ = check_agent_module(tmp_path, agent)
    assert checked is not None
    result = Runner().run(checked.compiled, {}, limits=Limits())
    assert result.status == "error"
    assert "failed to call `get-random-bytes`" in result.message
    assert "requested len 4294967295 exceeds limit" in result.message
    assert "backtrace" not in result.message


def test_the_summary_keeps_headline_and_causes_without_the_backtrace() -> None:
    text = ("error while executing at wasm backtrace:\n    0:     0x62 - <unknown>!<wasm "
            "function 1>\n\nCaused by:\n    0: failed to call `x`\n    1: Int conversion error\n")
    assert summarize_error(text) == "failed to call `x`: Int conversion error"
    assert summarize_error("failed to parse\n\nCaused by:\n    bad magic") == (
        "failed to parse: bad magic")
    assert summarize_error("one line") == "one line"
