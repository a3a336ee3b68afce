"""A policy gate with nothing in it never passes: a missing or empty default set, an empty
directory given to `policy test|list`, and an empty `spec.policies` directory are M401 errors
(exit 1), never a clean pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.conftest import REPO, WORKSPACE


@pytest.mark.parametrize("verb", ["test", "list"])
def test_policy_commands_refuse_an_empty_directory(verb: str, tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "notes.yaml").write_text("# nothing here yet\n")
    r = CliRunner().invoke(main, ["policy", verb, str(tmp_path / "rules"), "-o", "json"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert [d["code"] for d in doc["diagnostics"]] == ["M401"]
    assert "without rules checks nothing" in doc["diagnostics"][0]["message"]


@pytest.mark.parametrize("verb", ["test", "list"])
def test_policy_commands_refuse_an_empty_default_set(verb: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    (tmp_path / "policies").mkdir()
    monkeypatch.setenv("MENTAT_HOME", str(tmp_path))
    r = CliRunner().invoke(main, ["policy", verb])
    assert r.exit_code == 1 and "error[M401]: no policy rules in policies" in r.stderr


def test_compile_refuses_an_empty_default_set(make_ws, tmp_path: Path,  # type: ignore[no-untyped-def]
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_ws()
    home = tmp_path / "home"
    shutil.copytree(REPO / "schemas", home / "schemas")
    (home / "policies").mkdir()
    monkeypatch.setenv("MENTAT_HOME", str(home))
    r = CliRunner().invoke(main, ["compile", str(root)])
    assert r.exit_code == 1 and "M401" in r.stderr and "no policy rules" in r.stderr
    assert not (root / "rendered").exists()


def test_an_empty_workspace_policy_directory_is_an_error(make_ws) -> None:  # type: ignore[no-untyped-def]
    ws = WORKSPACE.replace("  sources: [flows/]\n", "  sources: [flows/]\n  policies: [mine/]\n")
    root = make_ws(workspace=ws)
    (root / "mine").mkdir()
    r = CliRunner().invoke(main, ["validate", str(root)])
    assert r.exit_code == 1
    assert "mentat.yaml:6:" in r.stderr and "policy directory 'mine/' holds no policy rules" in r.stderr
