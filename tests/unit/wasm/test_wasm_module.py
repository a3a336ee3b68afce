"""Module checks: size limits, validity, the agent ABI's exports, imports vs capabilities."""

from __future__ import annotations

import pytest
import wasmtime

from compiler.wasm import module as mod
from compiler.wasm.module import (
    WASI_FUNCTIONS,
    Capabilities,
    check_module,
    decode_module,
    parse_file_grant,
    read_module,
)

WASI = "wasi_snapshot_preview1"


ABI_EXPORTS = '(memory (export "memory") 1) (func (export "_start"))'


def wat(*imports: str, exports: str = ABI_EXPORTS) -> str:
    return "(module " + " ".join(imports) + " " + exports + ")"


def wasi_import(name: str) -> str:
    params, results, _ = WASI_FUNCTIONS[name]
    p = f"(param {' '.join(params)})" if params else ""
    r = f"(result {' '.join(results)})" if results else ""
    return f'(import "{WASI}" "{name}" (func {p} {r}))'


def problems(text: str, caps: Capabilities | None = None) -> list[mod.ModuleProblem]:
    caps = caps or Capabilities()
    checked, probs = read_module("m.wat", text.encode(), caps)
    assert (checked is None) == bool(probs)
    return probs


def test_minimal_command_module_passes() -> None:
    checked, probs = read_module("m.wat", wat(wasi_import("fd_write")).encode(), Capabilities())
    assert probs == []
    assert checked is not None
    assert checked.imports == ("fd_write",)
    assert checked.digest.startswith("sha256:") and len(checked.digest) == 71


def test_wasi_table_matches_wasmtime() -> None:
    # Our signature table is what wasmtime's WASI actually defines, name for name.
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    for name, (params, results, _) in WASI_FUNCTIONS.items():
        func = linker.get(store, WASI, name)
        assert isinstance(func, wasmtime.Func), name
        ty = func.type(store)
        assert tuple(repr(p) for p in ty.params) == params, name
        assert tuple(repr(r) for r in ty.results) == results, name


def test_forbidden_host_import_is_named() -> None:
    text = wat('(import "env" "host_log" (func (param i32 i32)))')
    (p,) = problems(text)
    assert p.code == "M511"
    assert "'env.host_log'" in p.message


def test_unknown_wasi_function_is_named() -> None:
    (p,) = problems(wat(f'(import "{WASI}" "fd_open_anything" (func (result i32)))'))
    assert p.code == "M511" and "fd_open_anything" in p.message and "not a WASI" in p.message


def test_wasi_function_with_wrong_signature() -> None:
    (p,) = problems(wat(f'(import "{WASI}" "fd_write" (func (param i32) (result i32)))'))
    assert p.code == "M511" and "(i32) -> (i32)" in p.message


def test_non_function_import_from_wasi() -> None:
    (p,) = problems(wat(f'(import "{WASI}" "fd_write" (global i32))'))
    assert p.code == "M511" and "must be a function" in p.message


@pytest.mark.parametrize(
    ("function", "denied", "granted"),
    [
        ("environ_get", Capabilities(), Capabilities(env=("MODEL",))),
        ("environ_sizes_get", Capabilities(), Capabilities(env=("MODEL",))),
        ("path_open", Capabilities(), Capabilities(files=("data",))),
        ("fd_prestat_get", Capabilities(), Capabilities(files=("data",))),
        ("fd_readdir", Capabilities(), Capabilities(files=("data",))),
        ("sock_send", Capabilities(), Capabilities(network=True)),
        ("sock_accept", Capabilities(env=("A",), files=("d",)), Capabilities(network=True)),
    ],
)
def test_capability_checks_both_ways(
    function: str, denied: Capabilities, granted: Capabilities
) -> None:
    text = wat(wasi_import(function))
    (p,) = problems(text, denied)
    assert p.code == "M511" and function in p.message and "needs" in p.message
    assert problems(text, granted) == []


def test_core_functions_need_no_grant() -> None:
    core = [n for n, (_, _, cap) in WASI_FUNCTIONS.items() if cap == "core"]
    assert {"fd_read", "fd_write", "proc_exit", "clock_time_get", "random_get"} <= set(core)
    assert problems(wat(*(wasi_import(n) for n in core))) == []


def test_every_import_is_reported() -> None:
    text = wat('(import "env" "a" (func))', '(import "host" "b" (func))', wasi_import("path_open"))
    assert [p.code for p in problems(text)] == ["M511", "M511", "M511"]


@pytest.mark.parametrize(
    ("exports", "missing"),
    [
        ('(func (export "_start"))', "memory"),
        ('(memory (export "memory") 1)', "_start"),
        ('(memory (export "memory") 1) (func (export "_start") (param i32))', "_start"),
        ('(memory (export "memory") 1) (func (export "_start") (result i32) i32.const 0)',
         "_start"),
        ('(memory (export "mem") 1) (func (export "main"))', "_start"),
    ],
)
def test_required_exports(exports: str, missing: str) -> None:
    probs = problems(wat(exports=exports))
    assert probs and all(p.code == "M512" for p in probs)
    assert any(f"'{missing}'" in p.message for p in probs)


def test_malformed_wat_points_at_its_line() -> None:
    text = '(module\n  (memory (export "memory") 1)\n  (func (export "_start")\n    i32.bogus))\n'
    (p,) = problems(text)
    assert p.code == "M510" and "invalid WebAssembly text" in p.message
    assert (p.line, p.col) == (4, 5)


def test_truncated_binary_is_invalid() -> None:
    wasm = bytes(wasmtime.wat2wasm(wat(wasi_import("fd_write"))))
    for cut in (len(wasm) - 1, len(wasm) // 2, 9):
        checked, probs = check_module(wasm[:cut], Capabilities())
        assert checked is None
        assert [p.code for p in probs] == ["M510"]
        assert "invalid WebAssembly module" in probs[0].message


@pytest.mark.parametrize(
    "content",
    [b"", b"\x7fELF\x02\x01\x01", b"\0asm", b"\0asm\x0d\0\x01\0", b"not wasm at all" * 10],
)
def test_not_a_module(content: bytes) -> None:
    wasm, probs = decode_module("m.wasm", content)
    assert wasm is None and [p.code for p in probs] == ["M510"]


def test_invalid_body_is_refused_by_validation() -> None:
    # header fine, type section claims more entries than it has
    wasm, probs = decode_module("m.wasm", b"\0asm\x01\0\0\0\x01\x05\x03\x60\x00\x00")
    assert probs == [] and wasm is not None
    checked, probs = check_module(wasm, Capabilities())
    assert checked is None and probs[0].code == "M510"


def test_enormous_module_refused_before_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_: object, **__: object) -> None:
        raise AssertionError("an oversized module must not reach the compiler")

    monkeypatch.setattr(wasmtime.Module, "validate", never)
    monkeypatch.setattr(wasmtime.Module, "__init__", never)
    monkeypatch.setattr(wasmtime, "wat2wasm", never)
    # a valid header followed by one custom section large enough to pass the limit
    size = mod.MAX_MODULE_BYTES
    payload = b"\x01x" + b"\0" * size
    section = b"\x00" + _leb(len(payload)) + payload
    big = b"\0asm\x01\0\0\0" + section
    checked, probs = read_module("big.wasm", big, Capabilities())
    assert checked is None
    assert [p.code for p in probs] == ["M510"] and "more than the limit" in probs[0].message
    checked, probs = check_module(big, Capabilities())
    assert checked is None and "more than the limit" in probs[0].message
    text = b";;" + b"x" * mod.MAX_WAT_BYTES
    wasm, probs = decode_module("big.wat", text)
    assert wasm is None and "more than the limit" in probs[0].message


def test_wat_that_assembles_to_an_enormous_binary() -> None:
    # text under its limit that assembles to a binary over the module limit
    text = '(module (memory 1) (data (i32.const 0) "' + "a" * mod.MAX_MODULE_BYTES + '"))'
    assert len(text) < mod.MAX_WAT_BYTES
    wasm, probs = decode_module("big.wat", text.encode())
    assert wasm is None and "binary is" in probs[0].message


def test_non_utf8_wat() -> None:
    wasm, probs = decode_module("m.wat", b"(module \xff)")
    assert wasm is None and "UTF-8" in probs[0].message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("data", ("data", False)),
        ("data:ro", ("data", False)),
        ("./data/sub/:rw", ("data/sub", True)),
        ("../data", None),
        ("/etc", None),
        ("data/../../x", None),
        ("~/x", None),
        ("data:rwx", None),
        ("", None),
        (".", None),
    ],
)
def test_file_grant_syntax(entry: str, expected: tuple[str, bool] | None) -> None:
    got = parse_file_grant(entry)
    if expected is None:
        assert isinstance(got, str)
    else:
        assert got == expected


def _leb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
