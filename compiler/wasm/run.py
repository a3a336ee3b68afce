"""Run a wasm agent locally, sandboxed: the pins in on stdin, the pins out on stdout.

Every run gets a fresh store with a fuel budget (instructions), a memory limit (StoreLimits),
and a wall-clock deadline: a ticker thread advances the engine's epoch while runs are active and
a store past its epoch deadline traps. WASI is configured from the granted capabilities only:
the listed environment variables, the listed directories preopened (read-only unless `:rw`),
no network (no socket is ever preopened), no inherited stdio, argv or environment.

stdio: without granted directories (most agents) `fd_read`/`fd_write` are served from memory by
host functions that bounds-check every guest pointer; with directories, WASI's own stdio reads
and writes files in a private temporary directory. Output is capped either way.

A trap, an exhausted limit or bad output is a `RunResult` with a clear status, never an
exception in the host.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import wasmtime

from compiler.diagnostics import Diagnostic
from compiler.load import resolve_inside
from compiler.model.quantity import parse_quantity
from compiler.model.spec import AgentSpec, Pin
from compiler.wasm.engine import shared_engine
from compiler.wasm.module import WASI_MODULE, Capabilities, parse_file_grant, summarize_error
from compiler.wasm.stage import check_agent_module

__all__ = [
    "DEFAULT_LIMITS",
    "FileGrant",
    "Limits",
    "RunResult",
    "Runner",
    "Sandbox",
    "Stdio",
    "default_runner",
    "memory_limit_for",
    "parse_outputs",
    "resolve_env",
    "run_agent",
    "sandbox_for",
]

_PAGE = 64 * 1024
_TABLE_ELEMENTS = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    fuel: int = 2_000_000_000  # roughly one unit per wasm instruction
    memory_bytes: int = 64 * 1024 * 1024
    timeout_ms: int = 5_000
    max_output_bytes: int = 1024 * 1024  # stdout and stderr each

    def __post_init__(self) -> None:
        if self.fuel <= 0 or self.memory_bytes < _PAGE or self.timeout_ms <= 0:
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


class _EpochTicker:
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

    def __enter__(self) -> _EpochTicker:
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


class _MemIO:
    """stdin, stdout and stderr of one run, in memory (the fast path: no file grants)."""

    def __init__(self, stdin: bytes, cap: int) -> None:
        self.stdin, self.pos, self.cap = stdin, 0, cap
        self.out = {1: bytearray(), 2: bytearray()}
        self.overflow = False


_CURRENT = threading.local()  # the _MemIO of the run executing on this thread
_EBADF, _EFAULT, _EFBIG, _EINVAL = 8, 21, 22, 28  # WASI errno values
_IOV = struct.Struct("<II")
_U32 = struct.Struct("<I")
_IOV_MAX = 1024


class _HostTimeout(Exception):
    """The run's deadline passed during a host call: the call ends the run."""


class _Fault(Exception):
    def __init__(self, errno: int) -> None:
        self.errno = errno


def _guest_memory(caller: wasmtime.Caller) -> tuple[wasmtime.Memory, int]:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise _Fault(_EFAULT)
    return memory, memory.data_len(caller)


def _iovecs(
    caller: wasmtime.Caller, memory: wasmtime.Memory, size: int, iovs: int, count: int
) -> list[tuple[int, int]]:
    # Every guest pointer is checked against the memory size: a hostile module gets EFAULT.
    if count > _IOV_MAX:
        raise _Fault(_EINVAL)
    if iovs + _IOV.size * count > size:
        raise _Fault(_EFAULT)
    vecs = list(_IOV.iter_unpack(memory.read(caller, iovs, iovs + _IOV.size * count)))
    if any(ptr + length > size for ptr, length in vecs):
        raise _Fault(_EFAULT)
    return vecs


def _put_u32(caller: wasmtime.Caller, memory: wasmtime.Memory, size: int, at: int, v: int) -> None:
    if at + 4 > size:
        raise _Fault(_EFAULT)
    memory.write(caller, _U32.pack(v), at)


def _host_fd_read(caller: wasmtime.Caller, fd: int, iovs: int, count: int, nread: int) -> int:
    fd, iovs, count, nread = (x & 0xFFFFFFFF for x in (fd, iovs, count, nread))  # i32 → u32
    io: _MemIO | None = getattr(_CURRENT, "io", None)
    if io is None or fd != 0:
        return _EBADF
    try:
        memory, size = _guest_memory(caller)
        if nread + 4 > size:  # checked before any byte moves
            raise _Fault(_EFAULT)
        total = 0
        for ptr, length in _iovecs(caller, memory, size, iovs, count):
            chunk = io.stdin[io.pos : io.pos + length]
            if chunk:
                memory.write(caller, chunk, ptr)
            io.pos += len(chunk)
            total += len(chunk)
            if len(chunk) < length:
                break
        _put_u32(caller, memory, size, nread, total)
        return 0
    except _Fault as f:
        return f.errno


def _host_fd_write(caller: wasmtime.Caller, fd: int, iovs: int, count: int, written: int) -> int:
    fd, iovs, count, written = (x & 0xFFFFFFFF for x in (fd, iovs, count, written))
    io: _MemIO | None = getattr(_CURRENT, "io", None)
    if io is None or fd not in io.out:
        return _EBADF
    buf = io.out[fd]
    try:
        memory, size = _guest_memory(caller)
        if written + 4 > size:  # checked before any byte moves
            raise _Fault(_EFAULT)
        total = 0
        for ptr, length in _iovecs(caller, memory, size, iovs, count):
            room = io.cap - len(buf)
            if length > room:  # keep what fits (a short write), then refuse: EFBIG
                io.overflow = True
                if room == 0 and total == 0:
                    return _EFBIG
                length = room
            if length:
                buf += memory.read(caller, ptr, ptr + length)
            total += length
            if io.overflow:
                break
        _put_u32(caller, memory, size, written, total)
        return 0
    except _Fault as f:
        return f.errno


_SUB = struct.Struct("<QB7xIxxxxQQH6x")  # subscription: userdata, tag, clock id, timeout, _, flags
_SUB_FD = struct.Struct("<QB7xI")  # fd_read / fd_write subscription: userdata, tag, fd
_EVENT = struct.Struct("<QHB5xQH6x")  # event: userdata, errno, type, nbytes, flags
_CLOCK, _ABSTIME = 0, 1
_NS = 1_000_000_000
_SLICE_S = 0.05  # a sleep is taken in slices, each checking the run's deadline


def _host_poll_oneoff(caller: wasmtime.Caller, subs: int, events: int, count: int,
                      nevents: int) -> int:
    """WASI's poll_oneoff, bounded by the run's wall-clock deadline. wasmtime's own sleeps
    in the host for as long as the module asks (an hour), where epoch interruption cannot
    reach it. Descriptors are ready at once (stdio is memory or regular files, and there
    are no sockets); a clock waits at most until the deadline, after which the module traps
    at its next instruction boundary."""
    try:
        memory, size = _guest_memory(caller)
        if count == 0 or count > _IOV_MAX:
            return _EINVAL
        if subs + _SUB.size * count > size or events + _EVENT.size * count > size:
            return _EFAULT
        raw = memory.read(caller, subs, subs + _SUB.size * count)
        ready: list[tuple[int, int, int]] = []  # userdata, errno, type
        clocks: list[tuple[float, int]] = []  # seconds to wait, userdata
        for i in range(count):
            userdata, tag, clock_id, timeout, _, flags = _SUB.unpack_from(raw, i * _SUB.size)
            if tag != _CLOCK:  # fd_read (1) / fd_write (2): always ready here
                ready.append((userdata, 0 if tag in (1, 2) else _EINVAL, tag))
                continue
            if flags & _ABSTIME:
                now = time.clock_gettime_ns(time.CLOCK_REALTIME if clock_id == 0
                                            else time.CLOCK_MONOTONIC)
                timeout = max(0, timeout - now)
            clocks.append((timeout / _NS, userdata))
        if not ready and clocks:
            wait, _ = min(clocks)
            deadline = getattr(_CURRENT, "deadline", None)
            end = time.monotonic() + wait
            if deadline is not None:
                end = min(end, deadline)
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(left, _SLICE_S))
            if deadline is not None and time.monotonic() >= deadline:
                raise _HostTimeout
            ready = [(u, 0, _CLOCK) for w, u in clocks if w <= wait]
        out = b"".join(_EVENT.pack(u, errno, tag, 0, 0) for u, errno, tag in ready)
        memory.write(caller, out, events)
        _put_u32(caller, memory, size, nevents, len(ready))
        return 0
    except _Fault as f:
        return f.errno


def _bounded(linker: wasmtime.Linker) -> wasmtime.Linker:
    """`linker` with poll_oneoff replaced by the deadline-bounded one."""
    i32 = wasmtime.ValType.i32()
    ty = wasmtime.FuncType([i32, i32, i32, i32], [i32])
    linker.define_func(WASI_MODULE, "poll_oneoff", ty, _host_poll_oneoff, access_caller=True)
    return linker


def _fast_linker(engine: wasmtime.Engine) -> wasmtime.Linker:
    """WASI, with stdio's fd_read / fd_write served from memory by the host.

    Only for sandboxes without directories: there the module can hold no descriptor but
    0, 1 and 2, so the two functions are complete. WASI's file-backed stdio hands every
    write to a worker thread, which is most of a cold start's time.
    """
    linker = wasmtime.Linker(engine)
    linker.allow_shadowing = True
    linker.define_wasi()
    i32 = wasmtime.ValType.i32()
    ty = wasmtime.FuncType([i32, i32, i32, i32], [i32])
    linker.define_func(WASI_MODULE, "fd_read", ty, _host_fd_read, access_caller=True)
    linker.define_func(WASI_MODULE, "fd_write", ty, _host_fd_write, access_caller=True)
    return _bounded(linker)


class Runner:
    """Runs compiled agent modules on one engine. Thread-safe; one store per run."""

    def __init__(self, engine: wasmtime.Engine | None = None, tick_ms: int = 5) -> None:
        self.engine = engine or shared_engine()
        self.tick_ms = tick_ms
        self._linker = wasmtime.Linker(self.engine)
        self._linker.allow_shadowing = True
        self._linker.define_wasi()
        _bounded(self._linker)
        self._fast = _fast_linker(self.engine)
        self._ticker = _EpochTicker(self.engine, tick_ms / 1000)

    def instantiate_pre(self, module: wasmtime.Module) -> wasmtime.InstancePre:
        """Resolve imports once for sandboxes without directories (benchmarks use it)."""
        return self._fast.instantiate_pre(module)

    def new_store(
        self, sandbox: Sandbox, limits: Limits, stdio: Stdio | None = None
    ) -> wasmtime.Store:
        """A store with the limits set and WASI built from the sandbox alone.

        Without `stdio` files, stdio is served from memory (see `_fast_linker`). Raises
        WasmtimeError when the sandbox cannot be set up (a granted directory is gone).
        """
        store = wasmtime.Store(self.engine)
        store.set_fuel(limits.fuel)
        store.set_limits(
            memory_size=limits.memory_bytes,
            table_elements=_TABLE_ELEMENTS,
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
        sandbox: Sandbox = Sandbox(),
        limits: Limits = DEFAULT_LIMITS,
    ) -> RunResult:
        """Run `_start` once with `inputs` as the stdin JSON object; parse stdout's object."""
        payload = json.dumps(dict(inputs), sort_keys=True, ensure_ascii=True).encode()
        if not sandbox.dirs:
            memio = _MemIO(payload, limits.max_output_bytes)
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
        io: _MemIO | Stdio,
    ) -> RunResult:
        try:
            store = self.new_store(sandbox, limits, io if isinstance(io, Stdio) else None)
        except wasmtime.WasmtimeError as e:
            return RunResult("error", f"cannot set up the sandbox: {_first_line(e)}")
        linker = self._linker if isinstance(io, Stdio) else self._fast
        exit_code, failure = 0, None
        instance: wasmtime.Instance | None = None
        previous = getattr(_CURRENT, "io", None), getattr(_CURRENT, "deadline", None)
        _CURRENT.io = io if isinstance(io, _MemIO) else None
        _CURRENT.deadline = time.monotonic() + limits.timeout_ms / 1000  # for host calls
        try:
            with self._ticker:
                instance = linker.instantiate(store, module)
                start = instance.exports(store)["_start"]
                if not isinstance(start, wasmtime.Func):
                    return RunResult("error", "the module's '_start' export is not a function")
                start(store)
        except wasmtime.ExitTrap as e:
            exit_code = e.code
        except _HostTimeout:
            failure = ("timeout", f"wall-clock limit of {limits.timeout_ms} ms exceeded "
                       "(while waiting in poll_oneoff)")
        except wasmtime.Trap as e:
            failure = _classify_trap(e, limits, _near_limit(store, instance, limits))
        except wasmtime.WasmtimeError as e:
            failure = _classify_error(e, limits)
        finally:
            _CURRENT.io, _CURRENT.deadline = previous
        fuel_used = limits.fuel - store.get_fuel()
        del instance, store  # closes the stdio files
        cap = limits.max_output_bytes
        if isinstance(io, _MemIO):
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


def _first_line(e: Exception) -> str:
    """An error in one line: its headline and, for wasmtime's, the causes it lists under
    "Caused by:" (a host call's reason is there, not in the headline); no backtrace."""
    return summarize_error(str(e)) or type(e).__name__


def _near_limit(
    store: wasmtime.Store, instance: wasmtime.Instance | None, limits: Limits
) -> bool:
    # memory.grow returns -1 at the limit and the module traps on its own later: a trap
    # with memory within one page of the limit is reported as the limit, not as a bug.
    if instance is None:
        return False
    memory = instance.exports(store).get("memory")
    if not isinstance(memory, wasmtime.Memory):
        return False
    return memory.data_len(store) + _PAGE > limits.memory_bytes


def _classify_trap(e: wasmtime.Trap, limits: Limits, near_limit: bool) -> tuple[str, str]:
    code = e.trap_code
    if code is wasmtime.TrapCode.OUT_OF_FUEL:
        return "fuel", f"fuel limit of {limits.fuel} exhausted (the module ran too long)"
    if code is wasmtime.TrapCode.INTERRUPT:
        return "timeout", f"wall-clock limit of {limits.timeout_ms} ms exceeded"
    name = code.name.lower().replace("_", " ") if code is not None else _first_line(e)
    if near_limit:
        return "memory", f"memory limit of {limits.memory_bytes} bytes reached (then: {name})"
    return "trap", f"the module trapped: {name}"


def _classify_error(e: wasmtime.WasmtimeError, limits: Limits) -> tuple[str, str]:
    text = _first_line(e)
    if "count too high" in text:  # more memories, tables or instances than one agent gets
        return "error", f"the module cannot run: {text}"
    if "table" in text and "limit" in text:
        return "memory", f"table limit of {_TABLE_ELEMENTS} elements exceeded: {text}"
    if "memory" in text and ("limit" in text or "exceeds" in text):
        return "memory", f"memory limit of {limits.memory_bytes} bytes exceeded: {text}"
    return "error", f"the module cannot run: {text}"


@lru_cache(maxsize=1)
def default_runner() -> Runner:
    return Runner()


def resolve_env(
    names: Sequence[str], spec_env: Mapping[str, str], host_env: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """Values for the granted variables: the agent's own `env`, else the host's (secrets)."""
    host = os.environ if host_env is None else host_env
    out = []
    for name in names:
        if name in spec_env:
            out.append((name, spec_env[name]))
        elif name in host:
            out.append((name, host[name]))
    return tuple(out)


def sandbox_for(
    agent: AgentSpec, root: Path, host_env: Mapping[str, str] | None = None
) -> tuple[Sandbox | None, list[str]]:
    """The sandbox an agent's capabilities grant: its listed variables and directories."""
    caps = Capabilities.from_spec(agent.capabilities)
    problems: list[str] = []
    dirs: list[FileGrant] = []
    base = Path(agent.doc.file).parent
    for entry in caps.files:
        parsed = parse_file_grant(entry)
        if isinstance(parsed, str):
            problems.append(parsed)
            continue
        rel, writable = parsed
        host = resolve_inside(root.resolve(), (base / rel).as_posix())
        if host is None or not host.is_dir():
            problems.append(f"file grant '{entry}': no directory {(base / rel).as_posix()} "
                            "inside the workspace")
            continue
        dirs.append(FileGrant(str(host), "/" + rel, writable))
    if problems:
        return None, problems
    env = resolve_env(caps.env, dict(agent.env), host_env)
    return Sandbox(env=env, dirs=tuple(dirs)), []


def memory_limit_for(agent: AgentSpec, default: int = DEFAULT_LIMITS.memory_bytes) -> int:
    """The agent's `resources.memory` in bytes (a Kubernetes quantity), else `default`.

    Clamped to wasm32's 4 GiB: linear memory cannot be larger anyway.
    """
    if "memory" not in agent.resources:
        return default
    try:
        value = int(parse_quantity(agent.resources["memory"]))
    except ValueError:  # validate's pattern is looser than the grammar: keep the default
        return default
    return max(_PAGE, min(value, 4 * 2**30))


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
