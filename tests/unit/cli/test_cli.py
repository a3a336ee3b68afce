"""The CLI contract scripts depend on: exit codes, --check, --stdout, --format json, --help."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_compile_then_check_then_drift(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    code, _, err = run("compile", str(root))
    assert code == 0 and "compiled" in err
    assert (root / "rendered" / "index.json").is_file()
    assert run("compile", str(root), "--check")[0] == 0
    victim = root / "rendered" / "prod" / "us-east-1" / "deployment-digest-sum.yaml"
    victim.write_text(victim.read_text().replace("replicas: 2", "replicas: 9"))
    (root / "rendered" / "stray.yaml").write_text("x: 1\n")
    code, _, err = run("compile", str(root), "--check")
    assert code == 1 and "M700" in err and "deployment-digest-sum.yaml" in err and "stray" in err
    code, _, err = run("compile", str(root))  # the stray file is not mentatctl's to delete
    assert code == 1 and "M701" in err and (root / "rendered" / "stray.yaml").exists()
    (root / "rendered" / "stray.yaml").unlink()
    assert run("compile", str(root))[0] == 0
    assert run("compile", str(root), "--check")[0] == 0


def test_a_failed_compile_leaves_the_previous_output_untouched(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    assert run("compile", str(root))[0] == 0
    before = {p: p.read_bytes() for p in (root / "rendered").rglob("*") if p.is_file()}
    (root / "flows" / "flow.yaml").write_text(
        (root / "flows" / "flow.yaml").read_text().replace("sum.text", "sum.txt"))
    code, _, err = run("compile", str(root))
    assert code == 1 and "flows/flow.yaml:10:" in err and "error[M302]" in err
    assert "M304" not in err
    after = {p: p.read_bytes() for p in (root / "rendered").rglob("*") if p.is_file()}
    assert after == before


def test_json_format_lists_every_diagnostic(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws({"flows/bad.yaml": "a: 1\na: 2\n", "flows/worse.yaml": "kind: Agnet\n"})
    code, out, _ = run("validate", str(root), "--format", "json")
    payload = json.loads(out)
    assert code == 1 and payload["ok"] is False
    assert [(d["file"], d["code"]) for d in payload["diagnostics"]] == [
        ("flows/bad.yaml", "M103"), ("flows/worse.yaml", "M200")]
    assert set(payload["diagnostics"][0]) == {"code", "message", "file", "line", "col",
                                              "severity", "hint"}


def test_github_format_annotates_lines(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws({"flows/bad.yaml": "a: 1\na: 2\n"})
    code, _, err = run("validate", str(root), "--format", "github")
    assert code == 1 and "::error file=flows/bad.yaml,line=2,col=1,title=M103::" in err


def test_stdout_stream_for_argo_cd(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    code, _, err = run("compile", str(root), "--stdout")
    assert code == 2 and "--target" in err and "prod/us-east-1" in err
    code, out, _ = run("compile", str(root), "--stdout", "--target", "prod/us-east-1")
    assert code == 0 and out.startswith("---\napiVersion:")
    assert "namespace: mentat-staging" not in out and "CustomResourceDefinition" in out
    assert not (root / "rendered").exists()
    assert run("compile", str(root), "--stdout", "--target", "nowhere/x")[0] == 2


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("compile", str(tmp_path))[0] == 2  # no mentat.yaml here or above
    assert run("compile", "--no-such-flag")[0] == 2
    assert run("compile", "--check", "--stdout")[0] == 2


def test_output_outside_the_workspace_is_refused(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import WORKSPACE

    root = make_ws(workspace=WORKSPACE.replace("output: rendered/", "output: ../../etc/"))
    code, _, err = run("compile", str(root))
    assert code == 1 and "mentat.yaml:6:" in err and "M107" in err


@pytest.mark.parametrize("cmd", [[], ["compile"], ["validate"]])
def test_help_has_an_example(cmd: list[str]) -> None:
    code, out, _ = run(*cmd, "--help")
    assert code == 0 and "Example" in out


def test_runs_as_a_real_process(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(REPO / "flows", ws / "flows")
    shutil.copy(REPO / "mentat.yaml", ws / "mentat.yaml")
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", "compile", str(ws)],
                          capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and "\x1b[" not in proc.stderr  # no progress bar when piped
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", "compile", str(ws), "--check"],
                          capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr


def test_missing_compiler_resources_fail_loudly(make_ws, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_ws()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MENTAT_HOME", str(home))
    code, _, err = run("compile", str(root))
    assert code == 2 and "schemas are missing" in err
    shutil.copytree(REPO / "schemas", home / "schemas")  # schemas, but no default policies
    code, _, err = run("validate", str(root))
    assert code == 1 and "M401" in err and "default policy set is missing" in err


def test_sign_refuses_an_output_outside_the_workspace(make_ws, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import WORKSPACE

    root = make_ws(workspace=WORKSPACE.replace("output: rendered/", "output: ../escape/"))
    (tmp_path / "escape").mkdir()
    (tmp_path / "escape" / "index.json").write_text("{}")
    monkeypatch.chdir(root)
    for args in (["sign", "--pki", str(tmp_path / "pki")], ["verify", "--trust", "x.pem"]):
        code, _, err = run(*args)
        assert code == 1 and "M107" in err, (args, err)
    assert not (tmp_path / "escape" / "index.sigstore.json").exists()
