"""Run a wasm agent locally, sandboxed: the pins in on stdin, the pins out on stdout.

The orchestration of one run: a store built from the sandbox and limits (`sandbox.py`), WASI
configured from the granted capabilities only: the listed environment variables, the listed
directories preopened (read-only unless `:rw`), no network (no socket is ever preopened), no
inherited stdio, argv or environment.

stdio: without granted directories (most agents) it is served from memory by the host
functions in `hostabi.py`; with directories, WASI's own stdio reads and writes files in a
private temporary directory. Output is capped either way.

A trap, an exhausted limit or bad output is a `RunResult` with a clear status, never an
exception in the host.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import wasmtime

from compiler.diagnostics import Diagnostic
from compiler.model.spec import AgentSpec, Pin
from compiler.wasm.engine import shared_engine
from compiler.wasm.grants import sandbox_for
from compiler.wasm.hostabi import CURRENT, HostTimeout, MemIO, bounded, fast_linker
from compiler.wasm.sandbox import (
    DEFAULT_LIMITS,
    TABLE_ELEMENTS,
    EpochTicker,
    Limits,
    RunResult,
    Sandbox,
    classify_error,
    classify_trap,
    first_line,
    near_limit,
)
from compiler.wasm.stage import check_agent_module

__all__ = [
    "Runner",
    "Stdio",
    "default_runner",
    "parse_outputs",
    "run_agent",
]


class Runner:
    """Runs compiled agent modules on one engine. Thread-safe; one store per run."""

    def __init__(self, engine: wasmtime.Engine | None = None, tick_ms: int = 5) -> None:
        self.engine = engine or shared_engine()
        self.tick_ms = tick_ms
        self._linker = wasmtime.Linker(self.engine)
        self._linker.allow_shadowing = True
        self._linker.define_wasi()
        bounded(self._linker)
        self._fast = fast_linker(self.engine)
        self._ticker = EpochTicker(self.engine, tick_ms / 1000)

    def instantiate_pre(self, module: wasmtime.Module) -> wasmtime.InstancePre:
        """Resolve imports once for sandboxes without directories (benchmarks use it)."""
        return self._fast.instantiate_pre(module)

    def new_store(
        self, sandbox: Sandbox, limits: Limits, stdio: Stdio | None = None
    ) -> wasmtime.Store:
        """A store with the limits set and WASI built from the sandbox alone.

        Without `stdio` files, stdio is served from memory (see `fast_linker`). Raises
        WasmtimeError when the sandbox cannot be set up (a granted directory is gone).
        """
        store = wasmtime.Store(self.engine)
        store.set_fuel(limits.fuel)
        store.set_limits(
            memory_size=limits.memory_bytes,
            table_elements=TABLE_ELEMENTS,
            instances=1,
            tables=4,
            memories=1,
        )
        store.set_epoch_deadline(math.ceil(limits.timeout_ms / self.tick_ms) + 1)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["agent"]
        wasi.env = list(sandbox.env)
        for grant in sandbox.dirs:
            wasi.preopen_dir(grant.host, grant.guest, grant.writable)
        if stdio is not None:
            # Files, not Python callbacks: wasmtime calls custom writers from its own
            # worker threads, which panic noisily at interpreter exit.
            wasi.stdin_file = stdio.stdin
            wasi.stdout_file = stdio.stdout
            wasi.stderr_file = stdio.stderr
        store.set_wasi(wasi)
        return store

    def run(
        self,
        module: wasmtime.Module,
        inputs: Mapping[str, Any],
        *,
        outputs: Sequence[Pin] | None = None,
        sandbox: Sandbox = Sandbox(),  # noqa: B008 (a frozen dataclass: immutable)
        limits: Limits = DEFAULT_LIMITS,
    ) -> RunResult:
        """Run `_start` once with `inputs` as the stdin JSON object; parse stdout's object."""
        payload = json.dumps(dict(inputs), sort_keys=True, ensure_ascii=True).encode()
        if not sandbox.dirs:
            memio = MemIO(payload, limits.max_output_bytes)
            return self._execute(module, sandbox, limits, outputs, memio)
        with tempfile.TemporaryDirectory(prefix="mentat-wasm-") as tmp:
            stdio = Stdio.in_dir(tmp)
            Path(stdio.stdin).write_bytes(payload)
            return self._execute(module, sandbox, limits, outputs, stdio)

    def _execute(
        self,
        module: wasmtime.Module,
        sandbox: Sandbox,
        limits: Limits,
        outputs: Sequence[Pin] | None,
        io: MemIO | Stdio,
    ) -> RunResult:
        try:
            store = self.new_store(sandbox, limits, io if isinstance(io, Stdio) else None)
        except wasmtime.WasmtimeError as e:
            return RunResult("error", f"cannot set up the sandbox: {first_line(e)}")
        linker = self._linker if isinstance(io, Stdio) else self._fast
        exit_code, failure = 0, None
        instance: wasmtime.Instance | None = None
        previous = getattr(CURRENT, "io", None), getattr(CURRENT, "deadline", None)
        CURRENT.io = io if isinstance(io, MemIO) else None
        CURRENT.deadline = time.monotonic() + limits.timeout_ms / 1000  # for host calls
        try:
            with self._ticker:
                instance = linker.instantiate(store, module)
                start = instance.exports(store)["_start"]
                if not isinstance(start, wasmtime.Func):
                    return RunResult("error", "the module's '_start' export is not a function")
                start(store)
        except wasmtime.ExitTrap as e:
            exit_code = e.code
        except HostTimeout:
            failure = ("timeout", f"wall-clock limit of {limits.timeout_ms} ms exceeded "
                       "(while waiting in poll_oneoff)")
        except wasmtime.Trap as e:
            failure = classify_trap(e, limits, near_limit(store, instance, limits))
        except wasmtime.WasmtimeError as e:
            failure = classify_error(e, limits)
        finally:
            CURRENT.io, CURRENT.deadline = previous
        fuel_used = limits.fuel - store.get_fuel()
        del instance, store  # closes the stdio files
        cap = limits.max_output_bytes
        if isinstance(io, MemIO):
            out, err, overflow = bytes(io.out[1]), bytes(io.out[2]), io.overflow
        else:
            out, err = _read_capped(io.stdout, cap), _read_capped(io.stderr, cap)
            overflow = len(out) > cap or len(err) > cap
            out, err = out[:cap], err[:cap]

        def result(status: str, message: str, **kw: Any) -> RunResult:
            return RunResult(status, message, fuel_used=fuel_used, stdout=out, stderr=err, **kw)

        if failure is not None:
            return result(*failure)
        if exit_code != 0:
            return result("exit", f"the module exited with code {exit_code}", exit_code=exit_code)
        if overflow:
            return result("output", f"the module wrote more than {cap} bytes to stdout or stderr")
        parsed, problem = parse_outputs(out, outputs)
        if problem:
            return result("output", problem)
        return result("ok", "ok", outputs=parsed)


@dataclass(frozen=True, slots=True)
class Stdio:
    """The three stdio files of one run, in a private directory (stdin written by the caller)."""

    stdin: str
    stdout: str
    stderr: str

    @classmethod
    def in_dir(cls, tmp: str) -> Stdio:
        return cls(*(os.path.join(tmp, n) for n in ("stdin.json", "stdout", "stderr")))


def _read_capped(path: str, cap: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(cap + 1)
    except OSError:
        return b""


def parse_outputs(
    stdout: bytes, outputs: Sequence[Pin] | None
) -> tuple[dict[str, Any] | None, str]:
    """The output pins from stdout: one JSON object, exactly the declared pins."""
    try:
        value = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return None, f"stdout is not one JSON object ({e})"
    if not isinstance(value, dict):
        return None, "stdout must be one JSON object of output pins"
    if outputs is None:
        return value, ""
    declared = {p.name: p for p in outputs}
    missing = sorted(set(declared) - set(value))
    extra = sorted(set(value) - set(declared))
    if missing or extra:
        parts = [f"missing {', '.join(missing)}" if missing else "",
                 f"undeclared {', '.join(extra)}" if extra else ""]
        return None, "output pins do not match the agent: " + "; ".join(p for p in parts if p)
    for name, pin in declared.items():
        if pin.type != "json" and not isinstance(value[name], str):
            return None, f"output pin '{name}' is {pin.type}: expected a JSON string"
    return value, ""


@lru_cache(maxsize=1)
def default_runner() -> Runner:
    return Runner()


def run_agent(
    agent: AgentSpec,
    root: Path,
    inputs: Mapping[str, Any],
    limits: Limits,
    host_env: Mapping[str, str] | None = None,
    runner: Runner | None = None,
) -> tuple[RunResult | None, list[Diagnostic]]:
    """Check the agent's module exactly as compiling does, then run it in its sandbox."""
    checked, diags = check_agent_module(root, agent)
    if checked is None:
        return None, diags
    sandbox, problems = sandbox_for(agent, root, host_env)
    if sandbox is None:
        pos = agent.doc.pos(("spec", "capabilities", "files"))
        return None, [Diagnostic("M513", p, agent.doc.file, pos.line, pos.col) for p in problems]
    runner = runner or default_runner()
    result = runner.run(checked.compiled, inputs, outputs=agent.outputs, sandbox=sandbox,
                        limits=limits)
    return result, []
