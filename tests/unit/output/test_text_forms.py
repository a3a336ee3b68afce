"""A command's own text form goes through the same renderer unchanged: graph's Mermaid and DOT
as text, its SVG as bytes, wasm run's outputs as JSON text; a string gets one final newline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from compiler.commands.graph import dot, mermaid, pick
from compiler.output import emit
from compiler.pipeline import compile_workspace
from tests.unit.output.conftest import Run


@click.command()
@click.argument("kind")
def show(kind: str) -> None:
    texts: dict[str, str | bytes] = {"line": "one line", "lines": "two\nlines\n",
                                     "bytes": b"\x89PNG\r\n", "empty": ""}
    emit("text", {"unused": True}, text=texts[kind])


@pytest.mark.parametrize(("kind", "stdout"), [("line", b"one line\n"), ("lines", b"two\nlines\n"),
                                              ("bytes", b"\x89PNG\r\n"), ("empty", b"")])
def test_text_is_printed_as_given(kind: str, stdout: bytes) -> None:
    r = CliRunner().invoke(show, [kind])
    assert r.exit_code == 0 and r.stdout_bytes == stdout and r.stderr == ""


def test_graph_drawings(run: Run, ws: Path) -> None:
    linked_ws = compile_workspace(ws, stop_after="link").workspace
    assert linked_ws is not None
    linked = pick(linked_ws, "news-digest")
    assert run("graph", "news-digest", "-w", ws).stdout == mermaid(linked)
    assert run("graph", "news-digest", "-w", ws, "-o", "dot").stdout == dot(linked)
    assert shutil.which("dot"), "Graphviz's dot is missing: .ci/run installs it (graphviz)"
    svg = run("graph", "news-digest", "-w", ws, "-o", "svg").stdout_bytes
    assert svg.lstrip().startswith(b"<?xml") and b"</svg>" in svg


def test_wasm_run_prints_its_outputs_as_json(run: Run, ws: Path) -> None:
    r = run("wasm", "run", "wordcount", "-i", "text=one two three", "-w", ws)
    assert r.exit_code == 0 and r.stderr == ""
    assert json.loads(r.stdout) == {"words": 3} and r.stdout.endswith("}\n")
