"""The workspace is given the same way to every command that reads one: -w/--workspace DIR
(validate, compile and cost also take it as their first argument, as the contract says);
given twice, differently, it is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

READERS = [["validate"], ["compile"], ["cost"], ["sign"], ["verify"], ["wasm", "run"], ["graph"],
           ["migrate"], ["catalog"], ["new", "agent"], ["new", "flow"]]


@pytest.mark.parametrize("cmd", READERS, ids=" ".join)
def test_every_workspace_reader_takes_dash_w(cmd: list[str]) -> None:
    out = CliRunner().invoke(main, [*cmd, "--help"]).stdout
    assert "-w, --workspace DIRECTORY" in out


def test_dash_w_from_anywhere(make_ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert CliRunner().invoke(main, ["validate", "-w", str(root)]).exit_code == 0
    assert CliRunner().invoke(main, ["validate", str(root / "flows")]).exit_code == 0  # below it
    assert CliRunner().invoke(main, ["validate", str(root), "-w", str(root)]).exit_code == 0


def test_two_different_workspaces_are_a_usage_error(make_ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["compile", str(root), "--workspace", str(tmp_path)])
    assert r.exit_code == 2 and "given twice" in r.stderr
    assert not (root / "rendered").exists()
