"""`mentatctl policy test|list`: the policy rules, checked against their fixtures, and listed.

`test` is to rules what `conftest verify` / `kyverno test` are to theirs: every rule against
its `<rule-id>.pass.yaml` and `<rule-id>.fail.yaml` (compiler/policy/fixtures.py), a table of
results, exit 1 when a fixture does not behave as named or a rule file is invalid.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from compiler import resources
from compiler.diagnostics import has_errors
from compiler.output import Table, diagnostics_doc, emit, info, output_option, render_table
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

def results_table(results: Sequence[FixtureResult]) -> Table:
    return Table("policy fixtures", ("rule", "fixture", "expect", "result", "detail"),
                 [(r.rule, r.fixture or "-", r.expect, "ok" if r.ok else "FAIL", r.detail)
                  for r in results])


def rules_table(rules: Sequence[Rule]) -> Table:
    return Table("policy rules", ("id", "severity", "phase", "kinds", "enforce", "file", "description"),
                 [(r.id, r.severity, r.phase, ", ".join(r.kinds), "yes" if r.enforce else "",
                   f"{r.file}:{r.line}", r.description) for r in rules])


def render_results(results: Sequence[FixtureResult], width: int | None = None) -> str:
    return render_table(results_table(results), width=width)


def render_rules(rules: Sequence[Rule], width: int | None = None) -> str:
    return render_table(rules_table(rules), width=width)


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
@output_option(table=True)
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
    emit(fmt, {"results": [r.to_dict() for r in results]}, diagnostics=diags, ok=not failed,
         text=results_table(results))
    if fmt not in ("json", "yaml"):
        ok = sum(r.ok for r in results)
        info(f"{ok} passed, {len(results) - ok} failed")
    raise SystemExit(1 if failed else 0)


@policy.command(name="list")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@output_option(table=True)
def list_cmd(directory: str | None, fmt: str) -> None:
    """List the rules in DIRECTORY (default: the default policy set).

    \b
    Example:
      mentatctl policy list
    """
    rules, diags = load_dir(*_base(directory))
    rules = sorted(rules, key=lambda r: r.id)
    if fmt in ("json", "yaml"):  # this document has no "ok" (kept for scripts)
        emit(fmt, {"rules": [_rule_dict(r) for r in rules], "diagnostics": diagnostics_doc(diags)})
    else:
        emit(fmt, text=rules_table(rules), diagnostics=diags)
    raise SystemExit(1 if has_errors(diags) else 0)
