"""Nothing outside the granted directories is readable or writable; env is what is granted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from compiler.wasm.grants import sandbox_for
from compiler.wasm.module import Capabilities, read_module
from compiler.wasm.run import Runner, run_agent
from compiler.wasm.sandbox import Limits, Sandbox

WASI = "wasi_snapshot_preview1"
IMPORTS = f"""
  (import "{WASI}" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "{WASI}" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "{WASI}" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))"""
READ, WRITE = 2, 64  # WASI rights fd_read, fd_write
CREAT = 1
LIMITS = Limits(fuel=10_000_000, memory_bytes=1 << 20, timeout_ms=5_000)


def open_probe(attempts: list[tuple[int, str, int, int]]) -> str:
    """A module trying `path_open(fd, path, oflags, rights)` for each attempt; for each it
    writes the errno as two digits, and after a successful read-open the first bytes read."""
    data, calls = [], []
    for k, (fd, path, oflags, rights) in enumerate(attempts):
        ptr = 1024 + 256 * k
        data.append(f'(data (i32.const {ptr}) "{path}")')
        out = 200 + 3 * k
        calls.append(f"""
        (local.set $e (call $open (i32.const {fd}) (i32.const 1) (i32.const {ptr})
          (i32.const {len(path.encode())}) (i32.const {oflags}) (i64.const {rights})
          (i64.const 0) (i32.const 0) (i32.const 16)))
        (i32.store8 (i32.const {out})
          (i32.add (i32.const 48) (i32.div_u (local.get $e) (i32.const 10))))
        (i32.store8 (i32.const {out + 1})
          (i32.add (i32.const 48) (i32.rem_u (local.get $e) (i32.const 10))))
        (i32.store8 (i32.const {out + 2}) (i32.const 44))
        (if (i32.eqz (local.get $e)) (then (if (i32.and (i32.const {rights}) (i32.const {READ}))
          (then
            (i32.store (i32.const 0) (i32.const {8192 + 64 * k}))
            (i32.store (i32.const 4) (i32.const 32))
            (drop (call $read (i32.load (i32.const 16))
              (i32.const 0) (i32.const 1) (i32.const 8)))))))""")
    n = len(attempts)
    reads = 8192 + 64 * n
    return f"""(module {IMPORTS}
      (memory (export "memory") 1)
      (data (i32.const 100) "{{\\"r\\":\\"")
      (data (i32.const 120) "\\",\\"read\\":\\"")
      (data (i32.const 140) "\\"}}")
      {" ".join(data)}
      (func $out (param $p i32) (param $n i32)
        (i32.store (i32.const 0) (local.get $p))
        (i32.store (i32.const 4) (local.get $n))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
      (func (export "_start") (local $e i32) (local $i i32)
        {"".join(calls)}
        ;; make what was read printable (keep letters, digits and ':' only)
        (local.set $i (i32.const 8192))
        (loop $clean
          (if (i32.eqz (i32.or
                (i32.and (i32.ge_u (i32.load8_u (local.get $i)) (i32.const 48))
                         (i32.le_u (i32.load8_u (local.get $i)) (i32.const 58)))
                (i32.and (i32.ge_u (i32.load8_u (local.get $i)) (i32.const 97))
                         (i32.le_u (i32.load8_u (local.get $i)) (i32.const 122)))))
            (then (i32.store8 (local.get $i) (i32.const 46))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $clean (i32.lt_u (local.get $i) (i32.const {reads}))))
        (call $out (i32.const 100) (i32.const 6))
        (call $out (i32.const 200) (i32.const {3 * n}))
        (call $out (i32.const 120) (i32.const 10))
        (call $out (i32.const 8192) (i32.const {64 * n}))
        (call $out (i32.const 140) (i32.const 2))))"""


def errnos(result: Any) -> list[int]:
    assert result is not None and result.ok, result
    return [int(x) for x in result.outputs["r"].rstrip(",").split(",")]


@pytest.fixture
def granted(tmp_path: Path) -> Path:
    data = tmp_path / "agents" / "data"
    data.mkdir(parents=True)
    (data / "inside.txt").write_text("insidesecretok")
    (tmp_path / "agents" / "outside.txt").write_text("outsidetext")
    os.symlink("/etc/passwd", data / "link")
    os.symlink("../outside.txt", data / "rel-link")
    return tmp_path


ESCAPES = [
    (3, "../outside.txt", 0, READ),
    (3, "/etc/passwd", 0, READ),
    (3, "../../../../../../../../etc/passwd", 0, READ),
    (3, "link", 0, READ),
    (3, "rel-link", 0, READ),
    (3, "./../data/../../outside.txt", 0, READ),
    (4, "etc/passwd", 0, READ),  # not a preopened descriptor
]


def test_reads_outside_the_grant_fail(make_agent: Any, granted: Path) -> None:
    attempts = [(3, "inside.txt", 0, READ), *ESCAPES]
    agent = make_agent(open_probe(attempts), capabilities={"files": ["data"]},
                       outputs=[{"name": "r", "type": "text"}, {"name": "read", "type": "text"}])
    result, diags = run_agent(agent, granted, {}, LIMITS)
    assert diags == []
    codes = errnos(result)
    assert codes[0] == 0  # the positive control: the granted file opens and reads
    assert all(code != 0 for code in codes[1:]), codes
    read = result.outputs["read"]  # type: ignore[union-attr]
    assert read.startswith("insidesecretok")
    assert "root" not in read and "outsidetext" not in read


def test_writes_outside_the_grant_fail(make_agent: Any, granted: Path) -> None:
    attempts = [
        (3, "created.txt", CREAT, WRITE),
        (3, "../escape.txt", CREAT, WRITE),
        (3, "/tmp/escape.txt", CREAT, WRITE),
        (3, "../outside.txt", 0, WRITE),
    ]
    outputs = [{"name": "r", "type": "text"}, {"name": "read", "type": "text"}]
    rw = make_agent(open_probe(attempts), name="rw", capabilities={"files": ["data:rw"]},
                    outputs=outputs)
    result, _ = run_agent(rw, granted, {}, LIMITS)
    codes = errnos(result)
    assert codes[0] == 0 and all(c != 0 for c in codes[1:]), codes
    assert (granted / "agents/data/created.txt").exists()
    assert not (granted / "agents/escape.txt").exists()
    assert (granted / "agents/outside.txt").read_text() == "outsidetext"

    (granted / "agents/data/created.txt").unlink()
    ro = make_agent(open_probe(attempts[:1]), name="ro", capabilities={"files": ["data"]},
                    outputs=outputs)
    result, _ = run_agent(ro, granted, {}, LIMITS)
    assert errnos(result)[0] != 0  # read-only grant: no new files
    assert not (granted / "agents/data/created.txt").exists()


def test_no_grant_means_no_descriptor(tmp_path: Path) -> None:
    # Even a module that slipped past the import check finds no directory to open.
    text = open_probe([(3, "etc/passwd", 0, READ), (3, "/etc/passwd", 0, READ)])
    checked, problems = read_module("p.wat", text.encode(), Capabilities(files=("x",)))
    assert checked is not None, problems
    result = Runner().run(checked.compiled, {}, sandbox=Sandbox(), limits=LIMITS)
    assert all(code != 0 for code in errnos(result))


def test_path_open_without_a_files_grant_is_refused(make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent(open_probe([(3, "x", 0, READ)]))
    result, diags = run_agent(agent, tmp_path, {}, LIMITS)
    assert result is None
    assert {d.code for d in diags} == {"M511"}
    assert any("path_open" in d.message for d in diags)


ENV_COUNT = f"""(module
  (import "{WASI}" "environ_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "{WASI}" "environ_get" (func $get (param i32 i32) (result i32)))
  (import "{WASI}" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "{{\\"n\\":\\"0\\",\\"env\\":\\"")
  (data (i32.const 140) "\\"}}")
  (func $out (param $p i32) (param $n i32)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (local $i i32)
    (drop (call $sizes (i32.const 16) (i32.const 20)))
    (i32.store8 (i32.const 106) (i32.add (i32.const 48) (i32.load (i32.const 16))))
    (drop (call $get (i32.const 1024) (i32.const 2048)))
    ;; NULs between entries become ';'
    (loop $c
      (if (i32.eqz (i32.load8_u (i32.add (i32.const 2048) (local.get $i))))
        (then (i32.store8 (i32.add (i32.const 2048) (local.get $i)) (i32.const 59))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $c (i32.lt_u (local.get $i) (i32.load (i32.const 20)))))
    (call $out (i32.const 100) (i32.const 16))
    (call $out (i32.const 2048) (i32.load (i32.const 20)))
    (call $out (i32.const 140) (i32.const 2))))"""


def test_only_granted_variables_are_visible(make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent(
        ENV_COUNT,
        capabilities={"env": ["GREETING", "TOKEN"]},
        env=[{"name": "GREETING", "value": "hi"}],
        outputs=[{"name": "n", "type": "text"}, {"name": "env", "type": "text"}],
    )
    host = {"TOKEN": "from-host", "GREETING": "host-value", "AWS_SECRET": "x", "HOME": "/root"}
    result, diags = run_agent(agent, tmp_path, {}, LIMITS, host_env=host)
    assert diags == [] and result is not None and result.ok, result
    assert result.outputs == {"n": "2", "env": "GREETING=hi;TOKEN=from-host;"}


def test_sandbox_for_refuses_bad_grants(make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent(ENV_COUNT, capabilities={"env": ["A"], "files": ["missing", "../up"]})
    sandbox, problems = sandbox_for(agent, tmp_path, {})
    assert sandbox is None and len(problems) == 2
    result, diags = run_agent(agent, tmp_path, {}, LIMITS, host_env={})
    assert result is None and {d.code for d in diags} == {"M513"}
