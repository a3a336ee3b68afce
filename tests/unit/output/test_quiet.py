"""-q hides informational lines and warnings in text, keeps errors and the data, and never
changes a JSON or YAML document."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from compiler.diagnostics import Diagnostic, Severity
from compiler.output import add_common_options, emit, info, output_option
from tests.conftest import MakeWs
from tests.unit.convert.test_mixed_workspace import OLD_AGENT  # a v1alpha1 Agent
from tests.unit.output.conftest import Run

DIAGS = [Diagnostic("M201", "broken", "a.yaml", 1, 1),
         Diagnostic("M520", "doubtful", "b.yaml", 2, 1, Severity.WARNING)]


@click.command()
@output_option()
def show(fmt: str) -> None:
    emit(fmt, {"answer": 42}, text="42", diagnostics=DIAGS)
    info("1 thing done")


add_common_options(show)


def test_quiet_text_keeps_errors_and_data_only() -> None:
    loud = CliRunner().invoke(show, [])
    quiet = CliRunner().invoke(show, ["-q"])
    assert loud.stdout == quiet.stdout == "42\n"
    assert loud.stderr == ("a.yaml:1:1: error[M201]: broken\nb.yaml:2:1: warning[M520]: doubtful\n"
                           "1 thing done\n")
    assert quiet.stderr == "a.yaml:1:1: error[M201]: broken\n"


def test_quiet_never_changes_a_document() -> None:
    for fmt in ("json", "yaml"):
        loud = CliRunner().invoke(show, ["-o", fmt])
        quiet = CliRunner().invoke(show, ["-o", fmt, "-q"])
        assert loud.stdout == quiet.stdout and "doubtful" in loud.stdout
        assert quiet.stderr == ""  # info lines belong to text


def test_quiet_cost_hides_its_warning_not_its_table(run: Run, ws: Path) -> None:
    flow = ws / "flows" / "flows" / "news-digest.yaml"
    flow.write_text(flow.read_text().replace("  expectedDurationSeconds: 300\n", ""))
    loud, quiet = run("cost", "-w", ws), run("-q", "cost", "-w", ws)
    assert loud.exit_code == quiet.exit_code == 0
    assert "warning[M520]" in loud.stderr and quiet.stderr == ""
    assert loud.stdout == quiet.stdout and "Totals" in quiet.stdout
    assert run("cost", "-w", ws, "-o", "json").stdout == run("cost", "-w", ws, "-o", "json",
                                                             "-q").stdout


def test_quiet_migrate_check_keeps_the_diff(run: Run, make_ws: MakeWs) -> None:
    ws = make_ws(agents=OLD_AGENT)
    loud, quiet = run("migrate", "--check", "-w", ws), run("migrate", "--check", "-w", ws, "-q")
    assert loud.exit_code == quiet.exit_code == 1  # something left to migrate
    assert loud.stdout == quiet.stdout and "+++ b/flows/agents.yaml" in quiet.stdout
    assert loud.stderr == "would migrate flows/agents.yaml (1 document)\n"
    assert quiet.stderr == ""
    assert run("migrate", "--check", "-w", ws, "-o", "json").stdout == run(
        "migrate", "--check", "-w", ws, "-o", "json", "-q").stdout
