"""The sandbox's terms: what one run may see and spend, how it is held to them, how it ends.

`Sandbox` and `FileGrant` are what the module may see (granted variables and directories),
`Limits` what it may spend (fuel, memory, wall-clock time, output). Every run gets a fresh store
with a fuel budget (instructions), a memory limit (StoreLimits), and a wall-clock deadline: the
`EpochTicker` advances the engine's epoch while runs are active and a store past its epoch
deadline traps. `classify_trap` / `classify_error` turn a trap or an exhausted limit into a
`RunResult` status. Apart from the runner so that the grants (`grants.py`) and the callers can
speak of limits and results without the host functions or the run orchestration.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from compiler.wasm.module import summarize_error

__all__ = [
    "DEFAULT_LIMITS",
    "PAGE",
    "TABLE_ELEMENTS",
    "EpochTicker",
    "FileGrant",
    "Limits",
    "RunResult",
    "Sandbox",
    "classify_error",
    "classify_trap",
    "first_line",
    "near_limit",
]

PAGE = 64 * 1024
TABLE_ELEMENTS = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    fuel: int = 2_000_000_000  # roughly one unit per wasm instruction
    memory_bytes: int = 64 * 1024 * 1024
    timeout_ms: int = 5_000
    max_output_bytes: int = 1024 * 1024  # stdout and stderr each

    def __post_init__(self) -> None:
        if self.fuel <= 0 or self.memory_bytes < PAGE or self.timeout_ms <= 0:
            raise ValueError("limits must be positive (memory at least one 64 KiB page)")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class FileGrant:
    host: str  # absolute host directory
    guest: str  # absolute path the module sees, e.g. "/data"
    writable: bool = False


@dataclass(frozen=True, slots=True)
class Sandbox:
    """What the module may see: nothing but these variables and directories."""

    env: tuple[tuple[str, str], ...] = ()
    dirs: tuple[FileGrant, ...] = ()


@dataclass(frozen=True, slots=True)
class RunResult:
    status: str  # ok | exit | trap | fuel | timeout | memory | output | error
    message: str
    outputs: dict[str, Any] | None = None
    exit_code: int = 0  # the module's own exit code (proc_exit), 0 when it returned
    fuel_used: int = 0
    stdout: bytes = field(default=b"", repr=False)
    stderr: bytes = field(default=b"", repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "outputs": self.outputs,
            "exitCode": self.exit_code,
            "fuelUsed": self.fuel_used,
            "stderr": self.stderr.decode("utf-8", "replace"),
        }


class EpochTicker:
    """Advances an engine's epoch every `tick_s` while runs are active (and a little after).

    Deadlines are counted in ticks, so concurrent runs on one engine do not cut each other
    short (a single per-run timer bumping the shared epoch would). The thread lingers for
    `linger_s` after the last run so back-to-back runs do not each pay for a new thread.
    """

    def __init__(self, engine: wasmtime.Engine, tick_s: float, linger_s: float = 1.0) -> None:
        self.engine, self.tick_s = engine, tick_s
        self._idle_limit = max(1, round(linger_s / tick_s))
        self._lock = threading.Lock()
        self._active = 0
        self._running = False

    def __enter__(self) -> EpochTicker:
        with self._lock:
            self._active += 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._loop, name="wasm-epoch", daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._active -= 1

    def _loop(self) -> None:
        idle = 0
        while True:
            time.sleep(self.tick_s)
            self.engine.increment_epoch()
            with self._lock:
                idle = 0 if self._active else idle + 1
                if idle >= self._idle_limit:
                    self._running = False
                    return


def first_line(e: Exception) -> str:
    """An error in one line: its headline and, for wasmtime's, the causes it lists under
    "Caused by:" (a host call's reason is there, not in the headline); no backtrace."""
    return summarize_error(str(e)) or type(e).__name__


def near_limit(
    store: wasmtime.Store, instance: wasmtime.Instance | None, limits: Limits
) -> bool:
    # memory.grow returns -1 at the limit and the module traps on its own later: a trap
    # with memory within one page of the limit is reported as the limit, not as a bug.
    if instance is None:
        return False
    memory = instance.exports(store).get("memory")
    if not isinstance(memory, wasmtime.Memory):
        return False
    return memory.data_len(store) + PAGE > limits.memory_bytes


def classify_trap(e: wasmtime.Trap, limits: Limits, near_limit: bool) -> tuple[str, str]:
    code = e.trap_code
    if code is wasmtime.TrapCode.OUT_OF_FUEL:
        return "fuel", f"fuel limit of {limits.fuel} exhausted (the module ran too long)"
    if code is wasmtime.TrapCode.INTERRUPT:
        return "timeout", f"wall-clock limit of {limits.timeout_ms} ms exceeded"
    name = code.name.lower().replace("_", " ") if code is not None else first_line(e)
    if near_limit:
        return "memory", f"memory limit of {limits.memory_bytes} bytes reached (then: {name})"
    return "trap", f"the module trapped: {name}"


def classify_error(e: wasmtime.WasmtimeError, limits: Limits) -> tuple[str, str]:
    text = first_line(e)
    if "count too high" in text:  # more memories, tables or instances than one agent gets
        return "error", f"the module cannot run: {text}"
    if "table" in text and "limit" in text:
        return "memory", f"table limit of {TABLE_ELEMENTS} elements exceeded: {text}"
    if "memory" in text and ("limit" in text or "exceeds" in text):
        return "memory", f"memory limit of {limits.memory_bytes} bytes exceeded: {text}"
    return "error", f"the module cannot run: {text}"
