"""Fuzzing the loader and validate (issue 15): any bytes, as a source file or as mentat.yaml,
give diagnostics with known codes or success, never a traceback, within bounded time and
memory. Each example runs in a forked child under RLIMIT_AS and RLIMIT_CPU, so a blow-up
or a hang fails the example (and hypothesis shrinks it) instead of the machine."""

from __future__ import annotations

import os
import pickle
import resource
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import CODES
from compiler.load import load
from compiler.validate import validate
from tests.conftest import AGENTS, FLOW, WORKSPACE

MEMORY = 512 * 2**20  # beyond what the child holds when forked
CPU_S = 20  # per example; typical examples take milliseconds

FUZZ = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

TOKENS = ["a", "b: ", "key: value", "- ", "\n", "  ", "{", "}", "[", "]", ", ", ": ", "&x ",
          "*x", "<<: *x", "!!str ", "!!python/object ", "!custom ", "---\n", "...\n", "%YAML 1.1\n",
          "%TAG ! tag:x,2000:\n", "? ", "|\n", ">-\n", "'", '"', "\\", "#", "\t", "\ufeff",
          "\x00", "\x85", "\u2028", "é", "😀", "0x7fffffffffffffff", "99999999999999999999",
          ".nan", "-.inf", "1.0e+400", "1_000", "0o777", "1:30:00", "2001-12-14", "~", "null",
          "yes", "=", "apiVersion: mentatlab.io/v1\n", "kind: Agent\n", "kind: Flow\n",
          "metadata: {name: a, version: 1.0.0}\n", "spec:\n", "  runtime: wasm\n",
          "  module: ../../etc/passwd\n", "  env: [{name: A, value: *x}]\n", "  nodes: []\n"]

yaml_soup = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=8)),
                     max_size=80).map("".join).map(lambda t: t.encode("utf-8", "surrogatepass"))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid agent or flow document with a few byte ranges replaced."""
    data = bytearray(draw(st.sampled_from([AGENTS, FLOW])).encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 8))
        data[at:at + cut] = draw(st.one_of(st.binary(max_size=8),
                                           st.sampled_from(TOKENS).map(str.encode)))
    return bytes(data)


inputs = st.one_of(st.binary(max_size=2048), yaml_soup, mutated())


def _in_child(root: Path) -> list[str]:
    loaded = load(root)
    validated = validate(loaded)
    return [d.code for d in (*loaded.diagnostics, *validated.diagnostics)]


def _bounded(root: Path) -> list[str]:
    """`_in_child(root)` in a forked child with memory and CPU limits: its codes, or the
    assertion that names what went wrong (a traceback, a signal, a limit)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        try:
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            with open("/proc/self/statm") as f:
                size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limit = size + MEMORY if hard == resource.RLIM_INFINITY else min(hard, size + MEMORY)
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            resource.setrlimit(resource.RLIMIT_CPU, (CPU_S, CPU_S + 5))
            outcome: object = _in_child(root)
        except BaseException:  # a traceback is exactly what must not happen: report it
            outcome = traceback.format_exc()
        with os.fdopen(write, "wb") as f:
            pickle.dump(outcome, f)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        raw = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and raw, f"child died (status {status}): a limit or a crash"
    outcome = pickle.loads(raw)
    assert isinstance(outcome, list), f"traceback:\n{outcome}"
    return outcome


def _workspace(tmp: Path, mentat: bytes, source: bytes) -> Path:
    root = tmp / "ws"
    (root / "flows").mkdir(parents=True, exist_ok=True)
    (root / "mentat.yaml").write_bytes(mentat)
    (root / "flows" / "fuzz.yaml").write_bytes(source)
    return root


@pytest.mark.skipif(not hasattr(os, "fork"), reason="bounds each example in a forked child")
@FUZZ
@given(source=inputs)
def test_any_source_file_gives_diagnostics_or_success(tmp_path: Path, source: bytes) -> None:
    codes = _bounded(_workspace(tmp_path, WORKSPACE.encode(), source))
    assert set(codes) <= set(CODES), codes


@pytest.mark.skipif(not hasattr(os, "fork"), reason="bounds each example in a forked child")
@FUZZ
@given(mentat=st.one_of(inputs, st.builds(
    lambda cut, junk: WORKSPACE.encode()[:cut] + junk + WORKSPACE.encode()[cut:],
    st.integers(0, len(WORKSPACE)), st.binary(max_size=12))))
def test_any_workspace_file_gives_diagnostics_or_success(tmp_path: Path, mentat: bytes) -> None:
    codes = _bounded(_workspace(tmp_path, mentat, AGENTS.encode()))
    assert set(codes) <= set(CODES), codes


def test_the_bounds_catch_a_blow_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: a child that exhausts its memory fails the example."""
    def hog(root: Path) -> list[str]:
        return [str(len(bytearray(2 * MEMORY)))]

    monkeypatch.setitem(globals(), "_in_child", hog)
    with pytest.raises(AssertionError, match=r"MemoryError|child died"):
        _bounded(_workspace(tmp_path, WORKSPACE.encode(), AGENTS.encode()))
