"""`mentatctl diff`: what a change to the workspace does to the rendered output, for review.

Compiles two commits from git (compiler/diff/task.py) and prints the objects added, removed
and changed per environment/region with unified YAML diffs (secrets masked), the policy
findings new and fixed, the cost delta and the head's rendered-tree digest.
"""

from __future__ import annotations

import json
import sys

import click

from compiler.cli import workspace_root
from compiler.diagnostics import render_text as render_diagnostics
from compiler.diff.report import COMMENT_LIMIT, render_json, render_markdown, render_text
from compiler.diff.task import DiffError, run_diff

__all__ = ["diff"]


@click.command()
@click.argument("workspace", default=".", type=click.Path(file_okay=False))
@click.option("--base", required=True, help="The ref to compare against (branch, tag, commit).")
@click.option("--head", default="HEAD", show_default=True, help="The ref under review.")
@click.option("-o", "--output", "--format", "fmt", default="text", show_default=True,
              type=click.Choice(["text", "markdown", "json"]),
              help="text for a terminal, markdown for pull-request comments, json for scripts.")
@click.option("--comment-limit", default=COMMENT_LIMIT, show_default=True, type=click.IntRange(4096),
              help="Markdown: the most bytes one comment may hold (GitHub: 65,536).")
@click.option("--no-cache", is_flag=True, help="Do not use the workspace's incremental cache.")
def diff(workspace: str, base: str, head: str, fmt: str, comment_limit: int,
         no_cache: bool) -> None:
    """Compile two commits and show what changes in the rendered output.

    Both commits are read from git into temporary directories (the working tree, index and
    checkout are not touched; nothing is fetched). Secret data and secret references are
    masked. Markdown output is one or more pull-request comments, each starting with a
    `<!-- mentatctl-diff:WORKSPACE:part-N -->` marker and at most --comment-limit bytes.
    Exit 0 on success (whether or not anything differs); 1 when a ref names no commit or a
    commit does not compile.

    \b
    Examples:
      mentatctl diff --base main
      mentatctl diff --base origin/main --head HEAD -o markdown > comments.md
      mentatctl diff --base v1.2.0 --head v1.3.0 --format json | jq .summary
    """
    root = workspace_root(workspace)
    try:
        report = run_diff(root, base, head, use_cache=not no_cache)
    except DiffError as exc:
        if fmt == "json":
            click.echo(json.dumps({"ok": False, "error": exc.message,
                                   "diagnostics": [d.to_dict() for d in exc.diagnostics]},
                                  indent=2))
        else:
            click.echo(f"error: {exc.message}", err=True)
            if exc.diagnostics:
                click.echo(render_diagnostics(list(exc.diagnostics)), err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(render_json(report), nl=False)
    elif fmt == "markdown":
        click.echo("".join(render_markdown(report, comment_limit)), nl=False)
    else:
        click.echo(render_text(report), nl=False)
    sys.exit(0)
