"""One result, every format: the same data and diagnostics printed as text (data on stdout,
diagnostics on stderr), markdown (the table as Markdown), github (diagnostics as workflow
annotations), and json/yaml (one document on stdout with ok, the diagnostics and the data)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from compiler.diagnostics import Diagnostic, Severity
from compiler.output import Table, add_common_options, emit, output_option

DIAGS = [
    Diagnostic("M520", "counted as 0", "flows/b.yaml", 4, 3, Severity.WARNING),
    Diagnostic("M201", "spec: missing required field 'module'", "flows/a.yaml", 3, 5,
               hint="add spec.module"),
]
TABLE = Table("rules", ("id", "severity"), [("a-rule", "error"), ("b|rule", "warning")])


@click.command()
@output_option(table=True, github=True)
def show(fmt: str) -> None:
    emit(fmt, {"rules": TABLE.records()}, text=TABLE, diagnostics=DIAGS)


add_common_options(show)

TEXT_DIAGS = ("flows/a.yaml:3:5: error[M201]: spec: missing required field 'module'\n"
              "  hint: add spec.module\n"
              "flows/b.yaml:4:3: warning[M520]: counted as 0\n")


def _invoke(fmt: str) -> tuple[str, str]:
    r = CliRunner().invoke(show, ["-o", fmt])
    assert r.exit_code == 0, r.output
    return r.stdout, r.stderr


def test_text_puts_the_table_on_stdout_and_the_diagnostics_on_stderr() -> None:
    out, err = _invoke("text")
    assert err == TEXT_DIAGS
    assert "rules" in out and "a-rule" in out and "b|rule" in out and "M201" not in out


def test_markdown_is_the_table_as_markdown_with_the_same_stderr() -> None:
    out, err = _invoke("markdown")
    assert out == ("**rules**\n\n| id | severity |\n|---|---|\n"
                   "| a-rule | error |\n| b\\|rule | warning |\n")
    assert err == TEXT_DIAGS


def test_github_prints_annotations_on_stderr() -> None:
    out, err = _invoke("github")
    assert err == ("::error file=flows/a.yaml,line=3,col=5,title=M201::spec: missing required "
                   "field 'module' (hint: add spec.module)\n"
                   "::warning file=flows/b.yaml,line=4,col=3,title=M520::counted as 0\n")
    assert "a-rule" in out


def test_json_and_yaml_are_one_document_with_the_same_keys() -> None:
    out, err = _invoke("json")
    assert err == ""
    doc = json.loads(out)
    assert list(doc) == ["ok", "diagnostics", "rules"]
    assert doc["ok"] is False  # an error among the diagnostics
    assert [d["code"] for d in doc["diagnostics"]] == ["M201", "M520"]  # sorted by file
    assert doc["diagnostics"][0] == {"code": "M201", "message": "spec: missing required field "
                                     "'module'", "file": "flows/a.yaml", "line": 3, "col": 5,
                                     "severity": "error", "hint": "add spec.module"}
    assert doc["rules"] == [{"id": "a-rule", "severity": "error"},
                            {"id": "b|rule", "severity": "warning"}]
    out_yaml, err_yaml = _invoke("yaml")
    assert err_yaml == "" and yaml.safe_load(out_yaml) == doc


def test_a_real_command_offering_github(tmp_path: Path) -> None:
    """`verify` against a trust file that holds no certificate: M803 in each format."""
    from compiler.cli import main

    (tmp_path / "rendered").mkdir()
    (tmp_path / "root.pem").write_text("not a certificate\n")
    args = ["verify", str(tmp_path / "rendered"), "--trust", str(tmp_path / "root.pem")]
    runner = CliRunner()
    text = runner.invoke(main, [*args, "-o", "text"])
    github = runner.invoke(main, [*args, "-o", "github"])
    as_json = runner.invoke(main, [*args, "-o", "json"])
    as_yaml = runner.invoke(main, [*args, "-o", "yaml"])
    assert text.exit_code == github.exit_code == as_json.exit_code == as_yaml.exit_code == 1
    assert "error[M803]: trust file holds no PEM certificate" in text.stderr
    assert "title=M803::trust file holds no PEM certificate" in github.stderr
    assert "error[M803]" not in github.stderr
    doc = json.loads(as_json.stdout)
    assert doc["ok"] is False and doc["diagnostics"][0]["code"] == "M803"
    assert as_json.stderr == "" and yaml.safe_load(as_yaml.stdout) == doc
