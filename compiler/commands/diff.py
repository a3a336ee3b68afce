"""`mentatctl diff`: what a change to the workspace does to the rendered output, for review.

Compiles two commits from git (compiler/diff/task.py) and prints the objects added, removed
and changed per environment/region with unified YAML diffs (secrets masked), the policy
findings new and fixed, the cost delta and the head's rendered-tree digest.
"""

from __future__ import annotations

import json
import sys

import click

from compiler.diff.report import COMMENT_LIMIT, render_json, render_markdown, render_text
from compiler.diff.task import DiffError, run_diff
from compiler.output import (
    DOCUMENT_FORMATS,
    emit,
    error,
    no_effect_unless,
    output_option,
    workspace_option,
    workspace_root,
)

__all__ = ["diff"]


@click.command()
@workspace_option()
@click.option("--base", required=True, help="The ref to compare against (branch, tag, commit).")
@click.option("--head", default="HEAD", show_default=True, help="The ref under review.")
@output_option(table=True, help="text for a terminal, markdown for pull-request comments, "
               "json or yaml for scripts.")
@click.option("--comment-limit", default=COMMENT_LIMIT, show_default=True, type=click.IntRange(4096),
              help="Markdown: the most bytes one comment may hold (GitHub: 65,536).")
@click.option("--no-cache", is_flag=True, help="Do not use the workspace's incremental cache.")
@click.pass_context
def diff(ctx: click.Context, workspace: str, base: str, head: str, fmt: str, comment_limit: int,
         no_cache: bool) -> None:
    """Compile two commits and show what changes in the rendered output.

    Both commits are read from git (nothing is fetched; the working tree, index and
    checkout are not touched) and compiled with the workspace's incremental cache. A commit
    is kept under .mentat/diff/ for later diffs (from its second diff on, with its output);
    when the working tree is exactly the head commit, its last compile's output is used.
    Secret data and secret references are masked. Markdown output is one or more
    pull-request comments, each starting with a
    `<!-- mentatctl-diff:WORKSPACE:part-N -->` marker and at most --comment-limit bytes.
    Exit 0 on success (whether or not anything differs); 1 when a ref names no commit or a
    commit does not compile.

    \b
    Examples:
      mentatctl diff --base main
      mentatctl diff --base origin/main --head HEAD -o markdown > comments.md
      mentatctl diff --base v1.2.0 --head v1.3.0 --format json | jq .summary
    """
    no_effect_unless(ctx, "comment_limit", "-o markdown", fmt == "markdown")
    root = workspace_root(workspace)
    try:
        report = run_diff(root, base, head, use_cache=not no_cache)
    except DiffError as exc:
        if fmt not in DOCUMENT_FORMATS:
            error(exc.message)
        emit(fmt, {"error": exc.message}, diagnostics=list(exc.diagnostics), ok=False)
        sys.exit(1)
    if fmt in DOCUMENT_FORMATS:  # render_json's keys are sorted: the same document either way
        emit(fmt, json.loads(render_json(report)))
    else:
        emit(fmt, text="".join(render_markdown(report, comment_limit)) if fmt == "markdown"
             else render_text(report))
    sys.exit(0)
