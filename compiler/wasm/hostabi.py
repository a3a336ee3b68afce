"""The host side of the agent ABI: stdio served from memory and a deadline-bounded poll_oneoff.

Without granted directories (most agents) `fd_read`/`fd_write` are served from memory by host
functions that bounds-check every guest pointer (a hostile module gets EFAULT, never the host's
memory); `poll_oneoff` everywhere replaces wasmtime's own, which would sleep past the run's
deadline. Apart from the runner because this is the code that reads and writes guest memory:
it is held to the WASI ABI byte for byte, while the runner only chooses a linker and a store.
"""

from __future__ import annotations

import struct
import threading
import time

import wasmtime

from compiler.wasm.module import WASI_MODULE

__all__ = ["CURRENT", "HostTimeout", "MemIO", "bounded", "fast_linker"]


class MemIO:
    """stdin, stdout and stderr of one run, in memory (the fast path: no file grants)."""

    def __init__(self, stdin: bytes, cap: int) -> None:
        self.stdin, self.pos, self.cap = stdin, 0, cap
        self.out = {1: bytearray(), 2: bytearray()}
        self.overflow = False


CURRENT = threading.local()  # the MemIO of the run executing on this thread
_EBADF, _EFAULT, _EFBIG, _EINVAL = 8, 21, 22, 28  # WASI errno values
_IOV = struct.Struct("<II")
_U32 = struct.Struct("<I")
_IOV_MAX = 1024


class HostTimeout(Exception):
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
    io: MemIO | None = getattr(CURRENT, "io", None)
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
    io: MemIO | None = getattr(CURRENT, "io", None)
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
            deadline = getattr(CURRENT, "deadline", None)
            end = time.monotonic() + wait
            if deadline is not None:
                end = min(end, deadline)
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(left, _SLICE_S))
            if deadline is not None and time.monotonic() >= deadline:
                raise HostTimeout
            ready = [(u, 0, _CLOCK) for w, u in clocks if w <= wait]
        out = b"".join(_EVENT.pack(u, errno, tag, 0, 0) for u, errno, tag in ready)
        memory.write(caller, out, events)
        _put_u32(caller, memory, size, nevents, len(ready))
        return 0
    except _Fault as f:
        return f.errno


def bounded(linker: wasmtime.Linker) -> wasmtime.Linker:
    """`linker` with poll_oneoff replaced by the deadline-bounded one."""
    i32 = wasmtime.ValType.i32()
    ty = wasmtime.FuncType([i32, i32, i32, i32], [i32])
    linker.define_func(WASI_MODULE, "poll_oneoff", ty, _host_poll_oneoff, access_caller=True)
    return linker


def fast_linker(engine: wasmtime.Engine) -> wasmtime.Linker:
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
    return bounded(linker)
