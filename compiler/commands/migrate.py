"""`mentatctl migrate`: rewrite older-version Agent and Flow files as v1, in place."""

from __future__ import annotations

import difflib
import sys

import click

from compiler.cli import workspace_root
from compiler.diagnostics import Diagnostic, Severity, render_text, sort_key
from compiler.migrate import Change, plan, write
from compiler.output import dump_document, output_option, workspace_option

__all__ = ["migrate"]


@click.command()
@workspace_option()
@click.option("--check", is_flag=True,
              help="Write nothing; show what would change and exit 1 if anything would.")
@output_option()
def migrate(workspace: str, check: bool, fmt: str) -> None:
    """Rewrite mentatlab.io/v1alpha1 Agent and Flow documents as v1, in place.

    Comments, key order and formatting are kept (a ruamel.yaml round trip that changes only
    the converted fields). Files already at v1 are not touched. Every file is checked first:
    if one has a problem (an unknown field, a read-only file), nothing is written, exit 1.

    \b
    Examples:
      mentatctl migrate                 # rewrite every older file of the workspace
      mentatctl migrate --check         # CI: exit 1 (and show the diff) if any is left
      mentatctl migrate -o json
    """
    root = workspace_root(workspace)
    found = plan(root)
    if not found.ok:
        _report(fmt, check, [], found.diagnostics)
        sys.exit(1)
    if not check:
        for change in found.changes:
            try:
                write(found.root, change)
            except OSError as e:
                done = found.changes[:found.changes.index(change)]
                failed = Diagnostic("M702", f"cannot rewrite: {e.strerror}", change.file)
                _report(fmt, check, done, [*found.diagnostics, failed])
                sys.exit(1)
    _report(fmt, check, found.changes, found.diagnostics)
    sys.exit(1 if check and found.changes else 0)


def _report(fmt: str, check: bool, changes: list[Change], diags: list[Diagnostic]) -> None:
    ok = not any(d.severity is Severity.ERROR for d in diags)
    if fmt in ("json", "yaml"):
        click.echo(dump_document(fmt, {
            "ok": ok and not (check and changes),
            "check": check,
            "files": [{"file": c.file, "documents": c.documents} for c in changes],
            "diagnostics": [d.to_dict() for d in sorted(diags, key=sort_key)],
        }), nl=False)
        return
    if diags:
        click.echo(render_text(diags), err=True)
    if not ok:
        click.echo("error: nothing was migrated", err=True)
        return
    for c in changes:
        if check:
            click.echo("".join(difflib.unified_diff(
                c.before.decode().splitlines(True), c.after.decode().splitlines(True),
                f"a/{c.file}", f"b/{c.file}")), nl=False)
        verb = "would migrate" if check else "migrated"
        click.echo(f"{verb} {c.file} ({c.documents} document{'s' * (c.documents != 1)})",
                   err=True)
    if not changes:
        click.echo("nothing to migrate: every Agent and Flow is mentatlab.io/v1", err=True)
