"""`mentatctl`: parse arguments → hand off to a task (compiler/tasks/) → print its outcome
through the one renderer → exit code.

Exit codes (scripts depend on them): 0 success; 1 the workspace has problems; 2 wrong usage
(unknown flag, no workspace found). Diagnostics go to stderr as `path:line:col:
error[CODE]: message`; `-o json` (or yaml) prints one document on stdout instead.
Commands other than these two live in compiler/commands/ (one registry line each); the
shared options and the one renderer are in compiler/output.py.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from compiler import __version__
from compiler.commands import COMMANDS
from compiler.output import (
    TEXT_FORMATS,
    add_common_options,
    detail,
    emit,
    environment_help,
    info,
    no_effect_unless,
    output_option,
    quiet,
    verbose,
    workspace_option,
    workspace_root,
)

if TYPE_CHECKING:  # the pipeline (CEL, schemas, renderers) is imported only to compile
    from compiler.tasks.compile import CompileOptions, Outcome

__all__ = ["entry", "main"]


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None] | None]:
    """A live stage display on a terminal; nothing at all when output is piped or in CI;
    with -v, a line per stage with the time since the compile started."""
    if verbose():
        start = time.perf_counter()

        def log_stage(name: str) -> None:
            detail(f"[{time.perf_counter() - start:7.3f}s] {name}")

        yield log_stage
        detail(f"[{time.perf_counter() - start:7.3f}s] done")
        return
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from compiler.pipeline import STAGES

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                  transient=True, console=None) as progress:
        task = progress.add_task("compiling", total=len(STAGES))

        def on_stage(name: str) -> None:
            progress.update(task, description=name, advance=1)

        yield on_stage


class _LazyGroup(click.Group):
    """Commands from the registry (compiler.commands.COMMANDS), imported when used, each
    given the shared -q/--quiet and -v/--verbose."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            cmd: click.Command = getattr(importlib.import_module(module), attr)
        else:
            found = super().get_command(ctx, name)
            if found is None:
                return None
            cmd = found
        return add_common_options(cmd)


@click.group(cls=_LazyGroup, epilog=environment_help(),
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mentatctl")
def main() -> None:
    """mentatctl: compile Agent and Flow YAML into signed, deterministic Kubernetes output.

    Every command takes -q/--quiet and -v/--verbose; every command that prints data takes
    -o/--output (text, json, yaml; markdown for tables; --format is an alias).

    \b
    Example:
      mentatctl validate            # check the workspace in the current directory
      mentatctl compile             # write rendered/ from mentat.yaml and flows/
      mentatctl compile --check     # CI: fail if rendered/ is out of date
      mentatctl version -o json     # compiler, schema and library versions
    """


add_common_options(main)


@main.command()
@workspace_option()
@output_option(github=True, help="How to print diagnostics (github: workflow annotations).")
@click.option("--no-cache", is_flag=True,
              help="Check everything from scratch; do not read or write .mentat/.")
@click.option("--stop-after", metavar="STAGE",
              help="Run the stages up to this one only: load, validate, link, policy, wasm, "
                   "render, policy-rendered, check, layout.")
def validate(workspace: str, fmt: str, no_cache: bool, stop_after: str | None) -> None:
    """Check a workspace: load, validate, link, render and check, writing no output.

    Like compile, it reuses and updates the incremental cache in .mentat/.

    \b
    Examples:
      mentatctl validate examples/shop -o json
      mentatctl validate --stop-after link    # what the stages up to link report
    """
    from compiler.tasks import Usage
    from compiler.tasks.compile import validate_task

    root = workspace_root(workspace)
    try:
        with _progress(fmt == "text" and not quiet()) as on_stage:
            outcome = validate_task(root, not no_cache, on_stage, detail, stop_after)
    except Usage as e:
        raise click.UsageError(str(e)) from None
    emit(fmt, None, diagnostics=outcome.diagnostics)
    if fmt == "text":
        for line in outcome.waiver_lines:
            info(line)
        if outcome.replayed:
            info(f"ok: {outcome.files} files would be rendered (as the last compile rendered them)")
        elif not outcome.failed and stop_after is not None:
            info(f"ok: no problems up to {stop_after}")
        elif not outcome.failed:
            info(f"ok: {outcome.flows} flows, {outcome.files} files would be rendered")
    sys.exit(1 if outcome.failed else 0)


@main.command(name="compile")
@workspace_option()
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="Output directory (default: the workspace's spec.output).")
@click.option("--check", is_flag=True,
              help="Compile in memory; exit 1 if the output tree on disk differs.")
@click.option("--stdout", "to_stdout", is_flag=True,
              help="Print one multi-document YAML stream instead of writing (Argo CD plugin).")
@click.option("--target", envvar=["MENTAT_TARGET", "ARGOCD_ENV_MENTAT_TARGET"],
              help="With --stdout: the ENV/REGION to print (cluster-wide objects included).")
@output_option(github=True, help="How to print diagnostics and the summary.")
@click.option("--no-cache", is_flag=True,
              help="Compile everything from scratch; do not read or write .mentat/.")
@click.option("--watch", is_flag=True,
              help="Compile, then again whenever an input changes, until Ctrl-C (exit 0); "
                   "-o json prints one line per compile.")
@click.pass_context
def compile_cmd(ctx: click.Context, workspace: str, out: str | None, check: bool, to_stdout: bool,
                target: str | None, fmt: str, no_cache: bool, watch: bool) -> None:
    """Compile a workspace into its output tree, atomically.

    A failed compile leaves the previous output untouched.

    \b
    Examples:
      mentatctl compile                       # writes rendered/
      mentatctl compile --check               # CI drift check, exit 1 on drift
      mentatctl compile --no-cache            # ignore .mentat/ (incremental cache)
      mentatctl compile --stdout --target prod/us-east-1 | kubectl apply -f -
      mentatctl compile --watch               # recompile on every save, until Ctrl-C
    """
    from compiler.tasks import Usage
    from compiler.tasks.compile import CompileOptions, compile_task

    if check and to_stdout:
        raise click.UsageError("--check and --stdout cannot be combined")
    for flag, given in (("--check", check), ("--stdout", to_stdout)):
        if watch and given:
            raise click.UsageError(f"--watch and {flag} cannot be combined: --watch writes "
                                   "the output tree on every change")
    no_effect_unless(ctx, "target", "--stdout", to_stdout)
    if to_stdout and out is not None:
        raise click.UsageError("--out has no effect with --stdout (nothing is written)")
    root = workspace_root(workspace)
    # --out is relative to where the command runs, the workspace's output to its root
    opts = CompileOptions(str(Path(out).absolute()) if out is not None else None, check,
                          to_stdout, target, not no_cache)
    if watch:
        _watch(root, opts, fmt)
        sys.exit(0)
    try:
        with _progress(fmt == "text" and not quiet()) as on_stage:
            outcome = compile_task(root, opts, on_stage, detail)
    except Usage as e:
        raise click.UsageError(str(e)) from None
    if outcome.stream is not None:
        sys.stdout.buffer.write(outcome.stream)
        sys.stdout.flush()
        # stdout is the stream: diagnostics go to stderr whatever -o says
        emit(fmt if fmt in TEXT_FORMATS else "text", None, diagnostics=outcome.diagnostics)
        sys.exit(0)
    _report(fmt, outcome, check)
    sys.exit(1 if outcome.failed else 0)


def _watch(root: Path, opts: CompileOptions, fmt: str) -> None:
    """`compile --watch`: each compile reported as `compile` reports it; with -o json, one
    line per compile, with what set it off and the compile's own duration in seconds."""
    from compiler.tasks.compile import shown
    from compiler.tasks.watch import Compiled, watch_task

    def report(c: Compiled) -> None:
        if c.changes and fmt == "text":
            more = f" and {len(c.changes) - 3} more" if len(c.changes) > 3 else ""
            info(f"changed: {', '.join(c.changes[:3])}{more}")
        _report(fmt, c.outcome, False, {"seconds": round(c.seconds, 4),
                                         "changes": list(c.changes), "replayed": c.outcome.replayed})
        if fmt != "text":
            return
        if c.outcome.failed:
            info("watching for changes (the output tree is left as it was)")
        elif c.first:
            info(f"watching {shown(root)} for changes (Ctrl-C to stop)")

    watch_task(root, opts, report, lambda: _progress(fmt == "text" and not quiet()), detail)


def _report(fmt: str, outcome: Outcome, check: bool,
            watched: dict[str, Any] | None = None) -> None:
    """A compile's diagnostics and, once its output directory is known, its summary;
    `watched`: one compile of `--watch` (its data joins the document, one of a stream)."""
    stream = watched is not None
    if outcome.output is None:  # the compile failed before it could place a tree
        emit(fmt, watched, diagnostics=outcome.diagnostics, stream=stream)
        return
    diff = outcome.diff
    if fmt == "text":
        for line in outcome.waiver_lines:
            info(line)
    emit(fmt, {"output": str(outcome.output), "files": outcome.files, "added": diff.added,
               "removed": diff.removed, "changed": diff.changed, "waivers": outcome.waivers,
               **(watched or {})},
         diagnostics=outcome.diagnostics, stream=stream)
    if fmt != "text" or outcome.failed:
        return
    from compiler.tasks.compile import shown

    n = len(diff.added) + len(diff.removed) + len(diff.changed)
    where = shown(outcome.output)
    if check:
        info(f"ok: {where} is up to date ({outcome.files} files)")
    elif n:
        info(f"compiled {outcome.files} files into {where} ({n} changed)")
    else:
        info(f"{where} is up to date ({outcome.files} files)")


def entry() -> None:
    """The console script: `main`, tuned for the one-shot `compile` and `validate`. They
    run without the cyclic garbage collector (a compile allocates millions of acyclic
    objects; its passes find nothing) and skip the interpreter's teardown (freeing those
    objects one by one), as mypy does; everything they write is closed and flushed by then.
    A/B at 10k objects (2026-12-02, benchmarks/README.md): 0.70x the CPU of a plain `main`
    for a one-flow recompile, 0.90x cold. `apply` skips the teardown too (~0.09 s of a ~0.8 s
    no-op: the kubernetes client's modules); its reconcile has released the Lease and closed
    its files by then. Other commands (the controller) run as usual; `compile --watch`
    runs the collector between its compiles (tasks/watch.py)."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    one_shot = command in ("compile", "validate", "apply")
    if command in ("compile", "validate"):
        gc.disable()
    try:
        main(prog_name="mentatctl")
    except SystemExit as e:
        if one_shot:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise



if __name__ == "__main__":
    entry()
