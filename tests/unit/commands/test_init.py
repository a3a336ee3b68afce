"""`mentatctl init`: a workspace that compiles at once; never overwrites without --force."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from compiler.cli import main
from compiler.pipeline import compile_workspace


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_new_workspace_compiles_and_its_agent_runs(tmp_path: Path) -> None:
    root = tmp_path / "My Flows"
    code, out, _ = run("init", str(root))
    assert code == 0 and "created mentat.yaml" in out
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        ".github/workflows/mentat.yml", ".gitignore", "README.md", "flows/agents/hello.wat",
        "flows/agents/hello.yaml", "flows/flows/hello.yaml", "mentat.yaml"]
    assert "name: my-flows\n" in (root / "mentat.yaml").read_text()
    result = compile_workspace(root)
    assert result.ok and not result.diagnostics, result.diagnostics
    assert any(p.startswith("bundles/hello-0.1.0/") for p in result.files)
    code, out, _ = run("wasm", "run", "hello", "-w", str(root), "--format", "json")
    assert code == 0 and json.loads(out)["outputs"] == {"greeting": "hello from my-flows"}
    code, _, _ = run("compile", str(root))
    assert code == 0 and (root / "rendered/index.json").is_file()


def test_workflow_checks_pass_on_the_new_workspace(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "ws"
    run("init", str(root), "--name", "shop")
    workflow = yaml.safe_load((root / ".github/workflows/mentat.yml").read_text())
    steps = [s["run"] for s in workflow["jobs"]["compile"]["steps"]
             if s.get("run", "").startswith("mentatctl ")]
    assert steps == ["mentatctl migrate --check", "mentatctl validate --format github",
                     "mentatctl compile --check --format github"]
    monkeypatch.chdir(root)
    assert run("compile")[0] == 0  # the output is committed with the sources
    for step in steps:
        code, out, err = run(*shlex.split(step)[1:])
        assert code == 0, (step, out, err)


def test_non_empty_directory_is_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = run("init", str(tmp_path))
    assert code == 2 and "is not empty (notes.txt)" in err and "--force" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_force_replaces_only_its_own_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mentat.yaml").write_text("old")
    code, _, _ = run("init", str(tmp_path), "--force", "--name", "shop")
    assert code == 0 and (tmp_path / "notes.txt").read_text() == "mine"
    assert "name: shop" in (tmp_path / "mentat.yaml").read_text()


def test_a_git_directory_alone_is_still_empty(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    code, out, _ = run("init", str(tmp_path), "-o", "json")
    assert code == 0 and "mentat.yaml" in json.loads(out)["created"]


def test_bad_name_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("init", str(tmp_path / "x"), "--name", "Not_A_Label")
    assert code == 2 and "DNS-1123" in err and not (tmp_path / "x").exists()


def test_help_has_an_example() -> None:
    code, out, _ = run("init", "--help")
    assert code == 0 and "Example" in out
