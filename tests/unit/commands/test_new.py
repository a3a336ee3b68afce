"""`mentatctl new agent|flow`: templates that validate as written; bad names and existing
ones refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.commands.scaffold import agent_files, flow_files
from compiler.load import parse_yaml
from compiler.pipeline import compile_workspace
from compiler.validate import schema_diagnostics


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    assert run("init", str(root), "--name", "demo")[0] == 0
    return root


@pytest.mark.parametrize("runtime", ["container", "wasm"])
def test_agent_templates_validate_as_written(runtime: str) -> None:
    files = agent_files("resize", runtime, "flows/agents", None, "ghcr.io/acme")
    assert next(iter(files)) == "flows/agents/resize.yaml"
    (doc,), diags = parse_yaml("flows/agents/resize.yaml", files["flows/agents/resize.yaml"])
    assert diags == [] and schema_diagnostics(doc) == []
    assert doc.data["spec"]["runtime"] == runtime
    assert ("flows/agents/resize.wat" in files) == (runtime == "wasm")


def test_wasm_agent_runs_under_wasm_run(ws: Path) -> None:
    code, out, _ = run("new", "agent", "echo", "--runtime", "wasm", "-w", str(ws))
    assert code == 0 and "created flows/agents/echo.wat" in out
    code, out, _ = run("wasm", "run", "echo", "-w", str(ws), "--input", "text=héllo \"x\"")
    assert code == 0 and json.loads(out) == {"text": "héllo \"x\""}


def test_new_flow_wires_the_agents_and_the_workspace_compiles(ws: Path) -> None:
    assert run("new", "agent", "echo", "--runtime", "wasm", "-w", str(ws))[0] == 0
    assert run("new", "agent", "shout", "--runtime", "container", "-w", str(ws))[0] == 0
    code, _, err = run("new", "flow", "chain", "-w", str(ws), "--agent", "hello",
                       "--agent", "echo", "--agent", "shout")
    assert code == 0 and err == ""
    text = (ws / "flows/flows/chain.yaml").read_text()
    assert "- {from: hello.greeting, to: echo.text}" in text
    assert "- {from: echo.text, to: shout.text}" in text
    result = compile_workspace(ws)
    assert result.ok, result.diagnostics


def test_flow_template_validates_as_written() -> None:
    from compiler.commands.scaffold import _Agent

    files, loose = flow_files("f", "flows", [_Agent("a", "1.2.3", [("x", "json")], [])], "t")
    assert loose == ["a.x"]
    (doc,), diags = parse_yaml("flows/f.yaml", files["flows/f.yaml"])
    assert diags == [] and schema_diagnostics(doc) == []
    assert doc.data["spec"]["nodes"] == [{"id": "a", "agent": "a@^1.2"}]


@pytest.mark.parametrize("name", ["Upper", "under_score", "dash-", "x" * 64, "a.b"])
def test_names_must_be_dns_labels(ws: Path, name: str) -> None:
    before = sorted(ws.rglob("*"))
    code, _, err = run("new", "agent", name, "--runtime", "wasm", "-w", str(ws))
    assert code == 2 and "DNS-1123" in err
    code, _, err = run("new", "flow", name, "-w", str(ws))
    assert code == 2 and "DNS-1123" in err
    assert sorted(ws.rglob("*")) == before


def test_existing_names_are_refused(ws: Path) -> None:
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    code, _, err = run("new", "agent", "hello", "--runtime", "wasm", "-w", str(ws))
    assert code == 2 and "agent 'hello' already exists (flows/agents/hello.yaml:4)" in err
    code, _, err = run("new", "flow", "hello", "-w", str(ws))
    assert code == 2 and "flow 'hello' already exists" in err
    assert {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()} == before


def test_an_existing_file_is_never_overwritten(ws: Path) -> None:
    (ws / "flows/agents/other.wat").write_text("mine")
    code, _, err = run("new", "agent", "other", "--runtime", "wasm", "-w", str(ws))
    assert code == 2 and "already exist" in err and "nothing was written" in err
    assert (ws / "flows/agents/other.wat").read_text() == "mine"
    assert not (ws / "flows/agents/other.yaml").exists()


def test_unknown_agent_for_a_flow(ws: Path) -> None:
    code, _, err = run("new", "flow", "f", "-w", str(ws), "--agent", "nope")
    assert code == 2 and "no agent nope" in err and "hello" in err


@pytest.mark.parametrize("cmd", [["new"], ["new", "agent"], ["new", "flow"]])
def test_help_has_an_example(cmd: list[str]) -> None:
    code, out, _ = run(*cmd, "--help")
    assert code == 0 and "Example" in out


def test_an_agent_range_given_is_kept(ws: Path) -> None:
    code, _, _ = run("new", "flow", "pinned", "-w", str(ws), "--agent", "hello@0.1.0")
    assert code == 0
    assert "- {id: hello, agent: hello@0.1.0}" in (ws / "flows/flows/pinned.yaml").read_text()


def test_node_ids_are_valid_and_unique() -> None:
    from compiler.commands.scaffold import _Agent

    src = _Agent("9-lives" + "x" * 50, "1.0.0", [], [("out", "text")])
    files, _ = flow_files("f", "", [src, src, src], "t")
    (doc,), diags = parse_yaml("f.yaml", files["f.yaml"])
    assert diags == [] and schema_diagnostics(doc) == []
    ids = [n["id"] for n in doc.data["spec"]["nodes"]]
    assert len(set(ids)) == 3 and all(i.startswith("n-9-lives") and len(i) <= 32 for i in ids)
