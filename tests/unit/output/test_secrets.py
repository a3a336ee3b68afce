"""No format prints a credential: diagnostics are redacted when made (compiler.diagnostics.
redact), and every renderer prints only what they carry."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from compiler.diagnostics import Diagnostic
from compiler.output import Table, add_common_options, emit, output_option
from tests.unit.output.conftest import SECRET, Run

FORMATS = ("text", "json", "yaml", "markdown", "github")


@click.command()
@output_option(table=True, github=True)
def show(fmt: str) -> None:
    diag = Diagnostic("M201", f"endpoint 'https://minio:{SECRET}@minio:9000' refused",
                      "mentat.yaml", 3, 1, hint=f"not password={SECRET} nor ?token={SECRET}")
    emit(fmt, {"checked": 1}, text=Table("t", ("k",), [("v",)]), diagnostics=[diag])


add_common_options(show)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_renderer_prints_diagnostics_redacted(fmt: str) -> None:
    r = CliRunner().invoke(show, ["-o", fmt])
    printed = r.stdout + r.stderr
    assert "M201" in printed and "minio:9000" in printed  # the diagnostic is there
    assert SECRET not in printed and "***" in printed


@pytest.mark.parametrize("fmt", ("text", "json", "yaml"))
@pytest.mark.parametrize("command", (["cost"], ["graph", "news-digest"], ["catalog"],
                                     ["wasm", "run", "leaky"]))
def test_commands_quoting_a_credential_print_it_redacted(run: Run, broken: Path,
                                                         command: list[str], fmt: str) -> None:
    r = run(*command, "-w", broken, "-o", fmt)
    printed = r.stdout + r.stderr
    assert r.exit_code == 1 and "M201" in printed and "https://***@x.io/?sig=***" in printed
    assert SECRET not in printed
