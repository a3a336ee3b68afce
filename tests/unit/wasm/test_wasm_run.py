"""The local runner: limits stop hostile modules with a clear status; the host stays up."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from compiler.model import Pin
from compiler.wasm.grants import memory_limit_for
from compiler.wasm.module import Capabilities, read_module
from compiler.wasm.run import Runner, run_agent
from compiler.wasm.sandbox import FileGrant, Limits, RunResult, Sandbox

FD_WRITE = (
    '(import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))'
)
PROC_EXIT = '(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))'
SMALL = Limits(fuel=50_000_000, memory_bytes=4 * 1024 * 1024, timeout_ms=2_000)


def compile_wat(text: str) -> wasmtime.Module:
    checked, problems = read_module("t.wat", text.encode(), Capabilities())
    assert checked is not None, problems
    return checked.compiled


def writer(payload: bytes, *, pages: int = 1, exit_code: int | None = None) -> str:
    """A module that writes `payload` to stdout (and then exits with `exit_code`)."""
    data = "".join(f"\\{b:02x}" for b in payload)
    exit_call = f"(call $exit (i32.const {exit_code}))" if exit_code is not None else ""
    return f"""(module {FD_WRITE} {PROC_EXIT}
      (memory (export "memory") {pages})
      (data (i32.const 64) "{data}")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const {len(payload)}))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        {exit_call}))"""


HEALTHY = writer(b'{"out": 1}')
LOOP = '(module (memory (export "memory") 1) (func (export "_start") (loop br 0)))'


@pytest.fixture(scope="module")
def runner() -> Runner:
    return Runner()


def run(runner: Runner, text: str, limits: Limits = SMALL, **kw: Any) -> RunResult:
    return runner.run(compile_wat(text), kw.pop("inputs", {}), limits=limits, **kw)


def assert_host_alive(runner: Runner) -> None:
    result = run(runner, HEALTHY)
    assert result.ok and result.outputs == {"out": 1}


def test_outputs_parsed(runner: Runner) -> None:
    result = run(runner, HEALTHY, outputs=(Pin("out", "json"),))
    assert result.status == "ok" and result.outputs == {"out": 1}
    assert result.fuel_used > 0


def test_infinite_loop_stopped_by_fuel(runner: Runner) -> None:
    limits = Limits(fuel=1_000_000, memory_bytes=1 << 20, timeout_ms=600_000)
    result = run(runner, LOOP, limits)
    assert result.status == "fuel" and "fuel limit of 1000000" in result.message
    assert result.fuel_used == 1_000_000
    assert_host_alive(runner)


def test_infinite_loop_stopped_by_epoch_deadline(runner: Runner) -> None:
    limits = Limits(fuel=10**18, memory_bytes=1 << 20, timeout_ms=100)
    result = run(runner, LOOP, limits)
    assert result.status == "timeout" and "100 ms" in result.message
    assert_host_alive(runner)


def test_deadline_of_one_run_does_not_cut_another(runner: Runner) -> None:
    # runs share one engine epoch: a looping run timing out must leave a concurrent one alone
    results: dict[str, RunResult] = {}

    def loop() -> None:
        results["loop"] = run(runner, LOOP, Limits(fuel=10**18, timeout_ms=100))

    t = threading.Thread(target=loop)
    t.start()
    healthy = [run(runner, HEALTHY, Limits(timeout_ms=60_000)) for _ in range(20)]
    t.join()
    assert results["loop"].status == "timeout"
    assert all(r.ok for r in healthy)


def test_allocation_past_the_memory_limit(runner: Runner) -> None:
    grow = """(module (memory (export "memory") 1)
      (func (export "_start")
        (loop $more
          (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        unreachable))"""
    result = run(runner, grow, Limits(memory_bytes=2 * 1024 * 1024))
    assert result.status == "memory" and "2097152" in result.message
    assert_host_alive(runner)


def test_initial_memory_over_the_limit(runner: Runner) -> None:
    text = '(module (memory (export "memory") 2000) (func (export "_start")))'
    result = run(runner, text, Limits(memory_bytes=64 * 1024 * 1024))
    assert result.status == "memory" and "exceeds memory limits" in result.message
    assert_host_alive(runner)


def test_out_of_bounds_access_traps(runner: Runner) -> None:
    text = """(module (memory (export "memory") 1)
      (func (export "_start") (drop (i32.load (i32.const 70000)))))"""
    result = run(runner, text)
    assert result.status == "trap" and "memory out of bounds" in result.message
    assert_host_alive(runner)


def test_unreachable_traps(runner: Runner) -> None:
    text = '(module (memory (export "memory") 1) (func (export "_start") unreachable))'
    result = run(runner, text)
    assert result.status == "trap" and "unreachable" in result.message


def test_stack_overflow_traps(runner: Runner) -> None:
    text = """(module (memory (export "memory") 1)
      (func $f (call $f)) (func (export "_start") (call $f)))"""
    result = run(runner, text)
    assert result.status == "trap" and "stack overflow" in result.message
    assert_host_alive(runner)


def test_start_section_is_limited_too(runner: Runner) -> None:
    # code that runs at instantiation (the start section) is under the same fuel
    text = """(module (memory (export "memory") 1)
      (func $s (loop br 0)) (start $s) (func (export "_start")))"""
    result = run(runner, text, Limits(fuel=100_000, timeout_ms=60_000))
    assert result.status == "fuel"


def test_nonzero_exit(runner: Runner) -> None:
    result = run(runner, writer(b"partial", exit_code=3))
    assert result.status == "exit" and result.exit_code == 3
    assert result.stdout == b"partial"


def test_exit_zero_is_success(runner: Runner) -> None:
    result = run(runner, writer(b'{"out": "x"}', exit_code=0), outputs=(Pin("out", "text"),))
    assert result.ok and result.outputs == {"out": "x"}


@pytest.mark.parametrize(
    ("stdout", "outputs", "fragment"),
    [
        (b"not json", (Pin("out", "json"),), "not one JSON object"),
        (b"[1, 2]", (Pin("out", "json"),), "one JSON object"),
        (b'{"other": 1}', (Pin("out", "json"),), "missing out; undeclared other"),
        (b'{"out": 5}', (Pin("out", "text"),), "expected a JSON string"),
        (b"\xff\xfe", (Pin("out", "json"),), "not one JSON object"),
    ],
)
def test_bad_output(runner: Runner, stdout: bytes, outputs: tuple[Pin, ...], fragment: str) -> None:
    result = run(runner, writer(stdout), outputs=outputs)
    assert result.status == "output" and fragment in result.message


def test_output_cap(runner: Runner) -> None:
    text = f"""(module {FD_WRITE} (memory (export "memory") 2)
      (func (export "_start") (local $i i32)
        (i32.store (i32.const 0) (i32.const 0))
        (i32.store (i32.const 4) (i32.const 65536))
        (loop $more
          (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $more (i32.lt_u (local.get $i) (i32.const 20))))))"""
    limits = Limits(max_output_bytes=100_000)
    result = run(runner, text, limits)
    assert result.status == "output" and "100000 bytes" in result.message
    assert len(result.stdout) == 100_000


def test_inputs_arrive_as_one_json_object_on_stdin(runner: Runner, repo: Path) -> None:
    text = (repo / "flows/wasm/uppercase.wat").read_text()
    result = run(runner, text, inputs={"text": 'Grüße "x"\n'}, outputs=(Pin("upper", "text"),))
    assert result.ok, result
    assert result.outputs == {"upper": 'GRüßE "X"\n'}


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        Limits(fuel=0)
    with pytest.raises(ValueError):
        Limits(memory_bytes=1000)


def test_memory_limit_from_resources(make_agent: Any) -> None:
    assert memory_limit_for(make_agent(HEALTHY, resources={"memory": "16Mi"})) == 16 * 2**20
    assert memory_limit_for(make_agent(HEALTHY, resources={"memory": "100M"})) == 100 * 10**6
    assert memory_limit_for(make_agent(HEALTHY, resources={"memory": "64Gi"})) == 4 * 2**30
    assert memory_limit_for(make_agent(HEALTHY, resources={"cpu": "1"}), 123456) == 123456


def test_run_agent_refuses_a_module_that_fails_its_checks(make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent('(module (import "env" "evil" (func)) (memory (export "memory") 1)'
                       ' (func (export "_start")))')
    result, diags = run_agent(agent, tmp_path, {}, SMALL)
    assert result is None
    assert [d.code for d in diags] == ["M511"] and "'env.evil'" in diags[0].message


def test_example_agents_run(load_agent: Any, repo: Path) -> None:
    greeter = load_agent(repo, "flows/wasm/greeter.yaml")
    result, diags = run_agent(greeter, repo, {}, SMALL, host_env={})
    assert diags == [] and result is not None and result.ok, result
    assert result.outputs == {"greeting": "Hello from WebAssembly, world"}
    upper = load_agent(repo, "flows/wasm/uppercase.yaml")
    result, _ = run_agent(upper, repo, {"text": "a b"}, SMALL)
    assert result is not None and result.outputs == {"upper": "A B"}
    count = load_agent(repo, "flows/wasm/wordcount.yaml")
    result, _ = run_agent(count, repo, {"text": " one\ttwo\nthree  "}, SMALL)
    assert result is not None and result.outputs == {"words": 3}
    assert json.dumps(result.to_dict())  # serialisable for --format json


def errno_probe(func: str, fd: int, iovs: int, count: int, out_ptr: int) -> str:
    """Calls `func(fd, iovs, count, out_ptr)` with hostile arguments, then reports the errno
    through a well-formed write."""
    return f"""(module
      (import "wasi_snapshot_preview1" "{func}" (func $probe (param i32 i32 i32 i32) (result i32)))
      {FD_WRITE}
      (memory (export "memory") 1)
      (data (i32.const 100) "{{\\"e\\":\\"00\\"}}")
      (func (export "_start") (local $e i32)
        (i32.store (i32.const 16) (i32.const 200)) (i32.store (i32.const 20) (i32.const 4))
        (local.set $e (call $probe (i32.const {fd}) (i32.const {iovs}) (i32.const {count})
                                   (i32.const {out_ptr})))
        (i32.store8 (i32.const 106) (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))
        (i32.store8 (i32.const 107) (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
        (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 10))
        (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""


@pytest.mark.parametrize(
    ("func", "fd", "iovs", "count", "out_ptr", "errno"),
    [
        ("fd_write", 1, 65530, 1, 8, 21),  # iovec array past the end of memory
        ("fd_write", 1, -16, 1, 8, 21),  # 0xfffffff0 as an i32
        ("fd_write", 1, 16, 1, 65533, 21),  # result pointer past the end
        ("fd_write", 1, 16, 5000, 8, 28),  # more iovecs than IOV_MAX
        ("fd_write", 7, 16, 1, 8, 8),  # no such descriptor
        ("fd_write", 0, 16, 1, 8, 8),  # stdin is not writable
        ("fd_read", 0, 65530, 1, 8, 21),
        ("fd_read", 1, 16, 1, 8, 8),
        ("fd_read", 0, 16, 1, -4, 21),
    ],
)
def test_hostile_stdio_arguments_get_an_errno(
    runner: Runner, func: str, fd: int, iovs: int, count: int, out_ptr: int, errno: int
) -> None:
    text = errno_probe(func, fd, iovs, count, out_ptr)
    imports = text.count("import")
    if func == "fd_write":  # the probe and the reporter are the same import then
        text = text.replace(FD_WRITE, "").replace("$w", "$probe")
        assert text.count("import") == imports - 1
    result = run(runner, text)
    assert result.ok, result
    assert result.outputs == {"e": f"{errno:02d}"}
    assert_host_alive(runner)


def test_iovec_pointing_past_memory_is_refused(runner: Runner) -> None:
    # the iovec array is in bounds, but the buffer it describes is not
    text = errno_probe("fd_write", 1, 16, 1, 8).replace(
        "(i32.store (i32.const 20) (i32.const 4))", "(i32.store (i32.const 20) (i32.const 70000))")
    text = text.replace(FD_WRITE, "").replace("$w", "$probe")
    result = run(runner, text)
    assert result.outputs == {"e": "21"}


def test_file_backed_and_in_memory_stdio_agree(runner: Runner, repo: Path, tmp_path: Path) -> None:
    text = (repo / "flows/wasm/uppercase.wat").read_text()
    inputs = {"text": "same either way \u00e9"}
    in_memory = run(runner, text, inputs=inputs)
    with_dir = run(runner, text, inputs=inputs,
                   sandbox=Sandbox(dirs=(FileGrant(str(tmp_path), "/data"),)))
    assert in_memory.ok and with_dir.ok
    assert in_memory.stdout == with_dir.stdout


def test_oversized_table_is_refused(runner: Runner) -> None:
    text = '(module (memory (export "memory") 1) (table 10000000 funcref) (func (export "_start")))'
    result = run(runner, text)
    assert result.status == "memory" and "table limit of 100000 elements" in result.message
    assert_host_alive(runner)


def test_second_memory_is_refused(runner: Runner) -> None:
    text = '(module (memory (export "memory") 1) (memory 1) (func (export "_start")))'
    result = run(runner, text)
    assert result.status == "error" and "memory count too high" in result.message


def test_memory_limit_reads_every_kubernetes_quantity_form(make_agent: Any) -> None:
    # the runner and cost estimates share one quantity parser
    assert memory_limit_for(make_agent(HEALTHY, resources={"memory": "1e8"})) == 10**8
    assert memory_limit_for(make_agent(HEALTHY, resources={"memory": "0.5Gi"})) == 2**29
    assert memory_limit_for(make_agent(HEALTHY, resources={"memory": 33554432})) == 2**25
    assert memory_limit_for(make_agent(HEALTHY, resources={"memory": "lots"}), default=7) == 7
