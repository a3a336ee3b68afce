"""`mentatctl cost`: the monthly cost estimate of a workspace, line by line with formulas.

The estimate itself is `compiler.render.cost.estimate` (also what writes `cost.json`); this
module only runs the pipeline as far as `link` and formats the report as a rich table,
Markdown (for pull-request comments) or JSON.
"""

from __future__ import annotations

import io
import json
import sys
from fractions import Fraction

import click
from rich.console import Console
from rich.table import Table

from compiler.diagnostics import Diagnostic, Severity
from compiler.output import (
    DOCUMENT_FORMATS,
    emit,
    output_option,
    table_width,
    workspace_option,
    workspace_root,
)
from compiler.pipeline import compile_workspace
from compiler.render.cost import CostReport, cost_json, estimate, fmt, money

__all__ = ["cost", "render_markdown", "render_table"]


def _totals(report: CostReport) -> list[tuple[str, dict[str, Fraction]]]:
    return [(label, report.total_by(grouping)) for label, grouping in (
        ("environment", "environments"), ("region", "regions"),
        ("environment/region", "environmentRegions"), ("flow", "flows"),
        ("cost center", "costCenters"))]


def render_table(report: CostReport, width: int | None = None) -> str:
    """Rich tables as text: one line per (environment, region, flow, node), then totals."""
    buf = io.StringIO()
    console = Console(file=buf, width=width or table_width(), force_terminal=False, color_system=None)
    table = Table(title=f"Estimated monthly cost: {report.workspace}")
    for col, justify in (("environment", "left"), ("region", "left"), ("flow", "left"),
                         ("node", "left"), ("replicas", "right"), ("hours", "right"),
                         ("monthly", "right"), ("formula", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for c in report.lines:
        table.add_row(c.environment, c.region, c.flow, c.node, str(c.replicas), fmt(c.hours, 2),
                      str(money(c.monthly)), c.formula)
    console.print(table)
    totals = Table(title="Totals")
    totals.add_column("by")
    totals.add_column("key")
    totals.add_column("monthly", justify="right")
    for by, sums in _totals(report):
        for key, value in sums.items():
            totals.add_row(by, key, str(money(value)))
    totals.add_row("total", "", str(money(report.total)))
    console.print(totals)
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: CostReport) -> str:
    """A Markdown section for a pull-request comment."""
    lines = [
        f"### Estimated monthly cost: {_md(report.workspace)}",
        "",
        f"**Total: {money(report.total)}** per month (730 h; prices per hour: cpu "
        f"{fmt(report.prices.cpu_hour)}, memory GiB {fmt(report.prices.memory_gib_hour)}, "
        f"gpu {fmt(report.prices.gpu_hour)})",
        "",
        "| environment | region | flow | node | replicas | monthly | formula |",
        "|---|---|---|---|---:|---:|---|",
    ]
    lines += [
        f"| {c.environment} | {c.region} | {_md(c.flow)} | {c.node} | {c.replicas} "
        f"| {money(c.monthly)} | `{_md(c.formula)}` |"
        for c in report.lines
    ]
    for by, sums in _totals(report):
        lines += ["", f"| by {by} | monthly |", "|---|---:|"]
        lines += [f"| {_md(k)} | {money(v)} |" for k, v in sums.items()]
    return "\n".join(lines) + "\n"


@click.command()
@workspace_option()
@click.option("--env", "env", help="Only this environment.")
@output_option(table=True, aliases={"table": "text"}, dest="fmt_")
def cost(workspace: str, env: str | None, fmt_: str) -> None:
    """Estimate the monthly cost of every flow, node, environment and region.

    Resources x replicas x duty cycle (services and streams always on; jobs: runs of their
    schedule per 730-hour month, averaged over 2025, x expectedDurationSeconds) x regions,
    priced with the workspace's spec.pricing. Each line shows its formula.

    \b
    Examples:
      mentatctl cost
      mentatctl cost --env prod -o markdown >> "$GITHUB_STEP_SUMMARY"
      mentatctl cost -o json | jq .totals.total
    """
    root = workspace_root(workspace)
    result = compile_workspace(root, stop_after="link")
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    ws = result.workspace
    if errors or ws is None:
        emit(fmt_, diagnostics=result.diagnostics)
        sys.exit(1)
    if not ws.spec.pricing:
        pos = ws.spec.doc.pos(("spec",), key=True)
        missing = Diagnostic("M522", "the workspace has no spec.pricing", ws.spec.doc.file,
                             pos.line, pos.col, hint="add spec.pricing: {cpuHour, memoryGiBHour, "
                             "gpuHour} to mentat.yaml")
        emit(fmt_, diagnostics=[missing])
        sys.exit(1)
    if env is not None and ws.spec.environment(env) is None:
        names = ", ".join(e.name for e in ws.spec.environments)
        raise click.BadParameter(f"unknown environment {env!r}; one of: {names}",
                                 param_hint="--env")
    report = estimate(ws)
    if env is not None:
        report = report.only(env)
    # JSON is byte for byte rendered/cost.json, plus "ok" and "diagnostics" when there are some
    if fmt_ in DOCUMENT_FORMATS:
        emit(fmt_, json.loads(cost_json(report)), diagnostics=report.diagnostics or None)
    else:
        emit(fmt_, text=render_markdown(report) if fmt_ == "markdown" else render_table(report),
             diagnostics=report.diagnostics)
    sys.exit(1 if any(d.severity is Severity.ERROR for d in report.diagnostics) else 0)
