"""Where diagnostics go: in text, on stderr with nothing on stdout; in json and yaml, inside
the one document on stdout with nothing on stderr. Every command that reads the workspace,
on a workspace with a problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.output.conftest import Run

COMMANDS = {
    "cost": ["cost"],
    "graph": ["graph", "news-digest"],
    "catalog": ["catalog"],
    "wasm run": ["wasm", "run", "no-such-agent"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_text_prints_diagnostics_on_stderr_only(run: Run, broken: Path, name: str) -> None:
    r = run(*COMMANDS[name], "-w", broken)
    assert r.exit_code == 1
    assert r.stdout == ""
    assert "flows/agents/leaky.yaml:8:" in r.stderr and "error[M201]" in r.stderr


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_and_yaml_carry_them_in_the_document(run: Run, broken: Path, name: str) -> None:
    as_json = run(*COMMANDS[name], "-w", broken, "-o", "json")
    as_yaml = run(*COMMANDS[name], "-w", broken, "-o", "yaml")
    assert as_json.exit_code == as_yaml.exit_code == 1
    assert as_json.stderr == as_yaml.stderr == ""
    doc = json.loads(as_json.stdout)
    assert doc["ok"] is False
    assert ("M201", "flows/agents/leaky.yaml", 8) in {
        (d["code"], d["file"], d["line"]) for d in doc["diagnostics"]}
    assert yaml.safe_load(as_yaml.stdout) == doc


def test_warnings_of_a_result_go_into_its_document(run: Run, ws: Path) -> None:
    """cost with a job flow that says not how long it runs: M520, a warning, exit 0."""
    flow = ws / "flows" / "flows" / "news-digest.yaml"
    flow.write_text(flow.read_text().replace("  expectedDurationSeconds: 300\n", ""))
    text = run("cost", "-w", ws)
    assert text.exit_code == 0 and "warning[M520]" in text.stderr
    assert "M520" not in text.stdout and "Estimated monthly cost" in text.stdout
    as_json = run("cost", "-w", ws, "-o", "json")
    assert as_json.exit_code == 0 and as_json.stderr == ""
    doc = json.loads(as_json.stdout)
    assert doc["ok"] is True and [d["code"] for d in doc["diagnostics"]] == ["M520"]
    assert doc["kind"] == "CostReport" and "total" in doc["totals"]
