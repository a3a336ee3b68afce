"""`mentatctl graph`: Mermaid, DOT, SVG (Graphviz) and JSON of a linked flow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["graph", "-w", str(REPO), *args])
    return r.exit_code, r.stdout, r.stderr


def test_mermaid() -> None:
    code, out, _ = run("news-digest")
    assert code == 0 and out == """\
flowchart LR
  %% news-digest@0.3.0 (job)
  n_fetch["<b>fetch</b><br/>fetcher@1.1.0<br/>container"]
  n_digest["<b>digest</b><br/>summarizer@1.2.0<br/>container"]
  n_publish["<b>publish</b><br/>publisher@0.4.1<br/>container"]
  n_digest -->|"summary → summary: text"| n_publish
  n_fetch -->|"articles → text: text"| n_digest
"""


def test_dot_marks_wasm_nodes_and_streams() -> None:
    code, out, _ = run("wasm-greeting@1.0.0", "-o", "dot")
    assert code == 0 and out.startswith('digraph "wasm-greeting@1.0.0" {')
    assert '"greet" [label="greet\\ngreeter@1.0.0\\nwasm", shape=ellipse];' in out
    code, out, _ = run("live-captions", "--format", "dot")
    assert '"ingest" -> "transcribe" [label="audio → audio: audio", style=dashed];' in out


def test_json() -> None:
    code, out, _ = run("news-digest", "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["nodes"][0] == {"id": "fetch", "agent": "fetcher",
                                              "version": "1.1.0", "runtime": "container",
                                              "replicas": 1}
    assert {"from": "fetch.articles", "to": "digest.text", "type": "text",
            "stream": False} in data["edges"]


def test_svg_through_graphviz() -> None:
    assert shutil.which("dot"), "Graphviz's dot is missing: .ci/run installs it (graphviz)"
    code, out, _ = run("news-digest", "-o", "svg")
    assert code == 0 and "<svg" in out and "summarizer@1.2.0" in out


def test_svg_without_graphviz_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run("news-digest", "-o", "svg")
    assert code == 2 and out == ""
    assert "needs Graphviz's `dot` on PATH" in err and "-o dot" in err


def test_unknown_flow_lists_the_flows() -> None:
    code, _, err = run("news-digets")
    assert code == 2 and "no flow 'news-digets' in the workspace" in err
    assert "news-digest@0.3.0" in err


def test_a_broken_workspace_reports_its_diagnostics(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws(flow="apiVersion: mentatlab.io/v1\nkind: Flow\n")
    r = CliRunner().invoke(main, ["graph", "-w", str(root), "digest"])
    assert r.exit_code == 1 and "M201" in r.stderr


def test_help_has_an_example() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "Example" in out
