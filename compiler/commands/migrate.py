"""`mentatctl migrate`: rewrite older-version Agent and Flow files as v1, in place."""

from __future__ import annotations

import difflib
import sys

import click

from compiler.diagnostics import Diagnostic, has_errors
from compiler.migrate import Change, plan, write
from compiler.output import (
    DOCUMENT_FORMATS,
    emit,
    error,
    info,
    output_option,
    workspace_option,
    workspace_root,
)

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
    ok = not has_errors(diags)
    if fmt in DOCUMENT_FORMATS:
        emit(fmt, {"check": check,
                   "files": [{"file": c.file, "documents": c.documents} for c in changes]},
             diagnostics=diags, ok=ok and not (check and changes))
        return
    # text: --check's diff on stdout; diagnostics and what was done on stderr
    emit(fmt, text="".join(map(_diff, changes)) if check and ok else "", diagnostics=diags)
    if not ok:
        error("nothing was migrated")
        return
    verb = "would migrate" if check else "migrated"
    for c in changes:
        info(f"{verb} {c.file} ({c.documents} document{'s' * (c.documents != 1)})")
    if not changes:
        info("nothing to migrate: every Agent and Flow is mentatlab.io/v1")


def _diff(c: Change) -> str:
    return "".join(difflib.unified_diff(c.before.decode().splitlines(True),
                                        c.after.decode().splitlines(True),
                                        f"a/{c.file}", f"b/{c.file}"))
