"""`mentatctl policy test|list`: the policy rules, checked against their fixtures, and listed.

`test` is to rules what `conftest verify` / `kyverno test` are to theirs: every rule against
its `<rule-id>.pass.yaml` and `<rule-id>.fail.yaml` (compiler/policy/fixtures.py), a table of
results, exit 1 when a fixture does not behave as named or a rule file is invalid.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from compiler import resources
from compiler.diagnostics import Diagnostic, has_errors, render_text
from compiler.policy import (
    FixtureResult,
    Limits,
    Rule,
    load_dir,
    verify_dir,
    waiver_lines,
    waivers_json,
)
from compiler.policy.rules import DEFAULT_PREFIX

__all__ = ["policy", "render_results", "render_rules", "waiver_lines", "waivers_json"]

_FORMAT = click.Choice(["text", "json"])


def _console(buf: io.StringIO) -> Console:
    return Console(file=buf, width=160, force_terminal=False, color_system=None)


def render_results(results: Sequence[FixtureResult]) -> str:
    buf = io.StringIO()
    table = Table(title="policy fixtures")
    for col in ("rule", "fixture", "expect", "result", "detail"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.rule, r.fixture or "-", r.expect, "ok" if r.ok else "FAIL", r.detail)
    _console(buf).print(table)
    return buf.getvalue()


def render_rules(rules: Sequence[Rule]) -> str:
    buf = io.StringIO()
    table = Table(title="policy rules")
    for col in ("id", "severity", "phase", "kinds", "enforce", "file", "description"):
        table.add_column(col, overflow="fold")
    for r in rules:
        table.add_row(r.id, r.severity, r.phase, ", ".join(r.kinds), "yes" if r.enforce else "",
                      f"{r.file}:{r.line}", r.description)
    _console(buf).print(table)
    return buf.getvalue()


def _rule_dict(r: Rule) -> dict[str, Any]:
    return {"id": r.id, "severity": r.severity, "phase": r.phase, "kinds": list(r.kinds),
            "labels": dict(r.labels), "enforce": r.enforce, "file": r.file, "line": r.line,
            "description": r.description, "expression": r.expression}


def _base(directory: str | None) -> tuple[Path, str]:
    """The directory, and the prefix that names its files as the user knows them."""
    if not directory:
        return resources.policies_dir(), DEFAULT_PREFIX
    base = Path(directory)
    if not base.is_dir():
        raise click.UsageError(f"no such directory: {base}")
    return base, directory.rstrip("/") + "/"


def _diag_text(diags: Sequence[Diagnostic]) -> None:
    text = render_text(diags)
    if text:
        click.echo(text, err=True)


@click.group()
def policy() -> None:
    """Policy rules (CEL): test them against their fixtures, list them.

    \b
    Example:
      mentatctl policy test              # the default set, with its fixtures
      mentatctl policy list --format json
    """


@policy.command(name="test")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True,
              help="Print a table, or JSON.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=Limits().seconds,
              show_default=True, help="Seconds one rule may take on one document.")
def test_cmd(directory: str | None, fmt: str, timeout: float) -> None:
    """Run every rule in DIRECTORY against its <rule-id>.pass.yaml / .fail.yaml fixtures.

    DIRECTORY defaults to the default policy set. Exit 1 when a fixture fails, a rule lacks
    one, or a rule file is invalid.

    \b
    Example:
      mentatctl policy test policies/ --format json
    """
    base, prefix = _base(directory)
    _, results, diags = verify_dir(base, Limits(seconds=timeout), prefix=prefix)
    failed = has_errors(diags) or not all(r.ok for r in results)
    if fmt == "json":
        click.echo(json.dumps({"ok": not failed, "results": [r.to_dict() for r in results],
                               "diagnostics": [d.to_dict() for d in diags]}, indent=2))
    else:
        _diag_text(diags)
        click.echo(render_results(results), nl=False)
        ok = sum(r.ok for r in results)
        click.echo(f"{ok} passed, {len(results) - ok} failed", err=True)
    raise SystemExit(1 if failed else 0)


@policy.command(name="list")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=_FORMAT, default="text", show_default=True,
              help="Print a table, or JSON.")
def list_cmd(directory: str | None, fmt: str) -> None:
    """List the rules in DIRECTORY (default: the default policy set).

    \b
    Example:
      mentatctl policy list
    """
    rules, diags = load_dir(*_base(directory))
    rules = sorted(rules, key=lambda r: r.id)
    if fmt == "json":
        click.echo(json.dumps({"rules": [_rule_dict(r) for r in rules],
                               "diagnostics": [d.to_dict() for d in diags]}, indent=2))
    else:
        _diag_text(diags)
        click.echo(render_rules(rules), nl=False)
    raise SystemExit(1 if has_errors(diags) else 0)
