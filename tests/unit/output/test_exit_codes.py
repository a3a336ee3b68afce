"""Exit codes do not depend on the format: 0 done, 1 the workspace has a problem, 2 wrong
usage (no workspace, an unknown name), for every command in text, json and yaml alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.output.conftest import Run

FORMATS = ("text", "json", "yaml")

DONE = {
    "cost": ["cost"],
    "graph": ["graph", "news-digest"],
    "catalog": ["catalog"],
    "explain": ["explain", "Flow.spec.mode"],
    "migrate": ["migrate", "--check"],
    "wasm run": ["wasm", "run", "wordcount", "-i", "text=one two"],
    "version": ["version"],
    "policy list": ["policy", "list"],
}
NO_WORKSPACE_OPTION = {"explain", "version", "policy list"}
WITH_A_PROBLEM = {
    "cost": ["cost"],
    "graph": ["graph", "news-digest"],
    "catalog": ["catalog"],
    "wasm run": ["wasm", "run", "wordcount", "-i", "text=x"],
}
NEEDS_A_WORKSPACE = {
    "cost": ["cost"],
    "graph": ["graph", "news-digest"],
    "catalog": ["catalog"],
    "migrate": ["migrate"],
    "wasm run": ["wasm", "run", "wordcount"],
    "new agent": ["new", "agent", "a", "--runtime", "wasm"],
}


def _codes(run: Run, args: list[str | Path]) -> set[int]:
    return {run(*args, "-o", fmt).exit_code for fmt in FORMATS}


@pytest.mark.parametrize("name", sorted(DONE))
def test_done_is_0(run: Run, ws: Path, name: str) -> None:
    where: list[str | Path] = [] if name in NO_WORKSPACE_OPTION else ["-w", ws]
    assert _codes(run, [*DONE[name], *where]) == {0}


@pytest.mark.parametrize("name", sorted(WITH_A_PROBLEM))
def test_a_problem_in_the_workspace_is_1(run: Run, broken: Path, name: str) -> None:
    if name == "wasm run":  # wordcount itself is fine: break it
        agent = broken / "flows" / "wasm" / "wordcount.yaml"
        agent.write_text(agent.read_text().replace("runtime: wasm", "runtime: wasm\n  bogus: 1"))
    assert _codes(run, [*WITH_A_PROBLEM[name], "-w", broken]) == {1}


@pytest.mark.parametrize("name", sorted(NEEDS_A_WORKSPACE))
def test_no_workspace_is_a_usage_error(run: Run, tmp_path: Path, name: str) -> None:
    for fmt in FORMATS:
        r = run(*NEEDS_A_WORKSPACE[name], "-w", tmp_path, "-o", fmt)
        assert r.exit_code == 2 and "no workspace found: no mentat.yaml in" in r.stderr, name
        assert r.stdout == ""


def test_an_unknown_name_is_a_usage_error(run: Run, ws: Path) -> None:
    assert _codes(run, ["graph", "no-such-flow", "-w", ws]) == {2}
    assert _codes(run, ["explain", "Agent.spec.nope"]) == {2}
    assert _codes(run, ["wasm", "run", "no-such-agent", "-w", ws]) == {2}
