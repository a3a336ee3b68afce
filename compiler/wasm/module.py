"""Read a wasm agent's module and hold it to the agent ABI and its capabilities.

The agent ABI (also in README.md next to this file): a WASI preview1 *command* module that
exports `_start: [] -> []` and its linear memory as `memory`, reads the input pins as one JSON
object on stdin and writes the output pins as one JSON object on stdout. Its only imports are
`wasi_snapshot_preview1` functions, each allowed by a capability:

- always: args, clocks, random, stdio (`fd_read`, `fd_write`, ...), `poll_oneoff`, `proc_*`;
- `environ_*` only when `capabilities.env` lists a variable;
- `path_*`, `fd_prestat_*` and the other filesystem functions only with `capabilities.files`;
- `sock_*` only with `capabilities.network: true`.

Anything else (another module, a host function, a WASI name that does not exist, a WASI
function with the wrong signature) is refused and named, before the module ever runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from compiler.load import MAX_FILE_BYTES
from compiler.wasm.engine import shared_engine

__all__ = [
    "MAX_MODULE_BYTES",
    "MAX_WAT_BYTES",
    "WASI_FUNCTIONS",
    "WASI_MODULE",
    "Capabilities",
    "CheckedModule",
    "ModuleProblem",
    "check_compiled",
    "check_module",
    "decode_module",
    "import_capability",
    "parse_file_grant",
    "read_module",
    "summarize_error",
]

WASI_MODULE = "wasi_snapshot_preview1"
MAX_MODULE_BYTES = 4 * 1024 * 1024  # binary modules larger than this are refused uncompiled
MAX_WAT_BYTES = MAX_FILE_BYTES  # text is bigger than the binary it assembles to
_WASM_MAGIC = b"\0asm\x01\0\0\0"

_I, _L = "i32", "i64"
# Every WASI preview1 function: (params, results, capability that grants it).
WASI_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "args_get": ((_I, _I), (_I,), "core"),
    "args_sizes_get": ((_I, _I), (_I,), "core"),
    "clock_res_get": ((_I, _I), (_I,), "core"),
    "clock_time_get": ((_I, _L, _I), (_I,), "core"),
    "fd_close": ((_I,), (_I,), "core"),
    "fd_fdstat_get": ((_I, _I), (_I,), "core"),
    "fd_fdstat_set_flags": ((_I, _I), (_I,), "core"),
    "fd_read": ((_I, _I, _I, _I), (_I,), "core"),
    "fd_renumber": ((_I, _I), (_I,), "core"),
    "fd_seek": ((_I, _L, _I, _I), (_I,), "core"),
    "fd_tell": ((_I, _I), (_I,), "core"),
    "fd_write": ((_I, _I, _I, _I), (_I,), "core"),
    "poll_oneoff": ((_I, _I, _I, _I), (_I,), "core"),
    "proc_exit": ((_I,), (), "core"),
    "proc_raise": ((_I,), (_I,), "core"),
    "random_get": ((_I, _I), (_I,), "core"),
    "sched_yield": ((), (_I,), "core"),
    "environ_get": ((_I, _I), (_I,), "env"),
    "environ_sizes_get": ((_I, _I), (_I,), "env"),
    "fd_advise": ((_I, _L, _L, _I), (_I,), "files"),
    "fd_allocate": ((_I, _L, _L), (_I,), "files"),
    "fd_datasync": ((_I,), (_I,), "files"),
    "fd_fdstat_set_rights": ((_I, _L, _L), (_I,), "files"),
    "fd_filestat_get": ((_I, _I), (_I,), "files"),
    "fd_filestat_set_size": ((_I, _L), (_I,), "files"),
    "fd_filestat_set_times": ((_I, _L, _L, _I), (_I,), "files"),
    "fd_pread": ((_I, _I, _I, _L, _I), (_I,), "files"),
    "fd_prestat_dir_name": ((_I, _I, _I), (_I,), "files"),
    "fd_prestat_get": ((_I, _I), (_I,), "files"),
    "fd_pwrite": ((_I, _I, _I, _L, _I), (_I,), "files"),
    "fd_readdir": ((_I, _I, _I, _L, _I), (_I,), "files"),
    "fd_sync": ((_I,), (_I,), "files"),
    "path_create_directory": ((_I, _I, _I), (_I,), "files"),
    "path_filestat_get": ((_I, _I, _I, _I, _I), (_I,), "files"),
    "path_filestat_set_times": ((_I, _I, _I, _I, _L, _L, _I), (_I,), "files"),
    "path_link": ((_I, _I, _I, _I, _I, _I, _I), (_I,), "files"),
    "path_open": ((_I, _I, _I, _I, _I, _L, _L, _I, _I), (_I,), "files"),
    "path_readlink": ((_I, _I, _I, _I, _I, _I), (_I,), "files"),
    "path_remove_directory": ((_I, _I, _I), (_I,), "files"),
    "path_rename": ((_I, _I, _I, _I, _I, _I), (_I,), "files"),
    "path_symlink": ((_I, _I, _I, _I, _I), (_I,), "files"),
    "path_unlink_file": ((_I, _I, _I), (_I,), "files"),
    "sock_accept": ((_I, _I, _I), (_I,), "network"),
    "sock_recv": ((_I, _I, _I, _I, _I, _I), (_I,), "network"),
    "sock_send": ((_I, _I, _I, _I, _I), (_I,), "network"),
    "sock_shutdown": ((_I, _I), (_I,), "network"),
}

_NEEDS = {
    "env": "capabilities.env to list at least one variable",
    "files": "a capabilities.files grant",
    "network": "capabilities.network: true",
}


@dataclass(frozen=True, slots=True)
class Capabilities:
    """An agent's WASI grants. `files` entries are `DIR`, `DIR:ro` or `DIR:rw` (see grants.py)."""

    network: bool = False
    env: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> Capabilities:
        spec = spec or {}
        return cls(
            network=bool(spec.get("network", False)),
            env=tuple(spec.get("env", ())),
            files=tuple(spec.get("files", ())),
        )

    def grants(self, capability: str) -> bool:
        return {
            "core": True,
            "env": bool(self.env),
            "files": bool(self.files),
            "network": self.network,
        }[capability]

    def to_dict(self) -> dict[str, Any]:
        return {"env": list(self.env), "files": list(self.files), "network": self.network}


@dataclass(frozen=True, slots=True)
class ModuleProblem:
    """A problem with a module; `line`/`col` are set for `.wat` syntax errors (in the .wat)."""

    code: str  # M510 invalid, M511 import not allowed, M512 missing export
    message: str
    hint: str = ""
    line: int = 0
    col: int = 0


@dataclass(frozen=True, slots=True)
class CheckedModule:
    wasm: bytes
    digest: str  # "sha256:<hex>" of `wasm`
    imports: tuple[str, ...]  # the WASI functions it imports, sorted
    compiled: wasmtime.Module = field(compare=False, repr=False)


def import_capability(module: str, name: str) -> str | None:
    """The capability that grants an import, or None when no capability can."""
    if module != WASI_MODULE or name not in WASI_FUNCTIONS:
        return None
    return WASI_FUNCTIONS[name][2]


def parse_file_grant(entry: str) -> tuple[str, bool] | str:
    """`DIR`, `DIR:ro` or `DIR:rw` → (normalised DIR, writable), or an error message.

    DIR is relative to the agent file and may not climb (`..`): the module sees it at
    `/DIR`, so the guest path is obvious from the grant and stays inside the agent's tree.
    """
    path, _, mode = entry.partition(":")
    if mode not in ("", "ro", "rw"):
        return f"file grant '{entry}': mode must be ':ro' or ':rw'"
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or path.startswith(("/", "~")) or ".." in parts or "\\" in path:
        return f"file grant '{entry}' must be a directory below the agent file, without '..'"
    return "/".join(parts), mode == "rw"


_WAT_POS = re.compile(r"-->\s*<anon>:(\d+):(\d+)")


def decode_module(name: str, content: bytes) -> tuple[bytes | None, list[ModuleProblem]]:
    """The module's binary: `.wat` text is assembled, sizes are checked before any compiling."""
    if name.endswith(".wat"):
        if len(content) > MAX_WAT_BYTES:
            return None, [_too_large(len(content), MAX_WAT_BYTES, "text")]
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as e:
            return None, [ModuleProblem("M510", f"module text is not valid UTF-8 ({e.reason})")]
        try:
            wasm = bytes(wasmtime.wat2wasm(text))
        except wasmtime.WasmtimeError as e:
            msg = str(e)
            m = _WAT_POS.search(msg)
            first = msg.splitlines()[0] if msg else "invalid text"
            line, col = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
            msg = f"invalid WebAssembly text: {first}"
            problem = ModuleProblem("M510", msg, line=line, col=col)
            return None, [problem]
    else:
        wasm = content
    if len(wasm) > MAX_MODULE_BYTES:
        return None, [_too_large(len(wasm), MAX_MODULE_BYTES, "binary")]
    if not wasm.startswith(_WASM_MAGIC):
        return None, [
            ModuleProblem(
                "M510",
                "not a WebAssembly 1.0 binary module (bad magic number or version)",
                hint="a component or a truncated file is not an agent module",
            )
        ]
    return wasm, []


def _too_large(size: int, limit: int, what: str) -> ModuleProblem:
    return ModuleProblem(
        "M510",
        f"module {what} is {size} bytes, more than the limit of {limit}",
        hint="refused before compiling; strip debug sections or split the agent",
    )


def check_module(
    wasm: bytes, caps: Capabilities, engine: wasmtime.Engine | None = None
) -> tuple[CheckedModule | None, list[ModuleProblem]]:
    """Validate and compile `wasm`, then check its imports and exports against the ABI."""
    engine = engine or shared_engine()
    if len(wasm) > MAX_MODULE_BYTES:
        return None, [_too_large(len(wasm), MAX_MODULE_BYTES, "binary")]
    try:
        wasmtime.Module.validate(engine, wasm)
        compiled = wasmtime.Module(engine, wasm)
    except wasmtime.WasmtimeError as e:
        return None, [ModuleProblem("M510", f"invalid WebAssembly module: {_first_line(e)}")]
    problems = check_compiled(compiled, caps)
    if problems:
        return None, problems
    names = sorted({i.name or "" for i in compiled.imports})
    digest = "sha256:" + hashlib.sha256(wasm).hexdigest()
    return CheckedModule(wasm, digest, tuple(names), compiled), []


def read_module(
    name: str, content: bytes, caps: Capabilities, engine: wasmtime.Engine | None = None
) -> tuple[CheckedModule | None, list[ModuleProblem]]:
    wasm, problems = decode_module(name, content)
    if wasm is None:
        return None, problems
    return check_module(wasm, caps, engine)


def check_compiled(compiled: wasmtime.Module, caps: Capabilities) -> list[ModuleProblem]:
    """The ABI and capability checks alone (for a module compiled or deserialized already)."""
    return _check_imports(compiled, caps) + _check_exports(compiled)


_CAUSE_INDEX = re.compile(r"^\d+:\s*")


def summarize_error(text: str) -> str:
    """wasmtime's error text (headline, backtrace, "Caused by:" and numbered causes) as one
    line: the headline unless it only announces a backtrace, then each cause."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines:
        return ""
    head = lines[0]
    causes: list[str] = []
    if "Caused by:" in lines:
        causes = [_CAUSE_INDEX.sub("", line) for line in lines[lines.index("Caused by:") + 1:]]
        causes = [c for c in causes if c]
    if head.startswith("error while executing at wasm backtrace") and causes:
        return ": ".join(causes)
    return ": ".join([head.rstrip(":"), *causes])


def _first_line(e: Exception) -> str:
    """An error in one line: its headline and, for wasmtime's, the causes it lists under
    "Caused by:" (a host call's reason is there, not in the headline); no backtrace."""
    return summarize_error(str(e)) or type(e).__name__


def _signature(params: tuple[str, ...], results: tuple[str, ...]) -> str:
    return f"({', '.join(params)}) -> ({', '.join(results)})"


def _check_imports(compiled: wasmtime.Module, caps: Capabilities) -> list[ModuleProblem]:
    problems: list[ModuleProblem] = []
    for imp in compiled.imports:
        name = imp.name or ""
        label = f"'{imp.module}.{name}'"
        capability = import_capability(imp.module, name)
        if capability is None:
            what = (
                f"{label} is not a WASI preview1 function"
                if imp.module == WASI_MODULE
                else f"{label}: agents may import only {WASI_MODULE} functions"
            )
            problems.append(
                ModuleProblem(
                    "M511",
                    f"import {what}",
                    hint="host functions and other modules are never linked into an agent",
                )
            )
            continue
        ty = imp.type
        params, results, _ = WASI_FUNCTIONS[name]
        if not isinstance(ty, wasmtime.FuncType):
            problems.append(ModuleProblem("M511", f"import {label} must be a function"))
            continue
        got = (tuple(repr(p) for p in ty.params), tuple(repr(r) for r in ty.results))
        if got != (params, results):
            problems.append(
                ModuleProblem(
                    "M511",
                    f"import {label} has type {_signature(*got)}, WASI preview1 defines "
                    f"{_signature(params, results)}",
                )
            )
            continue
        if not caps.grants(capability):
            problems.append(
                ModuleProblem(
                    "M511",
                    f"import {label} needs {_NEEDS[capability]}",
                    hint="grant it in spec.capabilities or remove the import from the module",
                )
            )
    return problems


def _check_exports(compiled: wasmtime.Module) -> list[ModuleProblem]:
    exports = {e.name: e.type for e in compiled.exports}
    problems: list[ModuleProblem] = []
    start = exports.get("_start")
    if not isinstance(start, wasmtime.FuncType) or list(start.params) or list(start.results):
        problems.append(
            ModuleProblem(
                "M512",
                "module must export the function '_start' of type () -> () (a WASI command)",
                hint="see the agent ABI in compiler/wasm/README.md",
            )
        )
    memory = exports.get("memory")
    if not isinstance(memory, wasmtime.MemoryType) or memory.is_64 or memory.is_shared:
        problems.append(
            ModuleProblem(
                "M512",
                "module must export its 32-bit, unshared linear memory as 'memory'",
                hint="WASI reads and writes buffers through the exported memory",
            )
        )
    return problems
