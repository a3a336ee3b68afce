"""`mentatctl`: parse arguments → run the pipeline → render diagnostics → exit code.

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
from typing import TYPE_CHECKING, Any, NoReturn

import click

from compiler import __version__
from compiler.cache import Cache, Replay
from compiler.commands import COMMANDS
from compiler.diagnostics import Diagnostic, Severity
from compiler.load import WORKSPACE_FILE, find_workspace_root, output_conflict, output_dir
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
)
from compiler.render.layout import LostContent, dump_yaml_stream
from compiler.resources import schemas_dir
from compiler.write import TreeDiff, diff_tree, write_tree

if TYPE_CHECKING:  # the pipeline (CEL, schemas, renderers) is imported only to compile
    from compiler.pipeline import CompileResult

__all__ = ["entry", "main"]

def workspace_root(arg: str) -> Path:
    """The workspace holding `arg` (a usage error, exit 2, when there is none)."""
    if not (schemas_dir() / "mentatlab.io").is_dir():
        raise click.UsageError(f"the compiler's schemas are missing ({schemas_dir()}): install "
                               "from the repository (pip install -e .) or set MENTAT_HOME")
    root = find_workspace_root(Path(arg))
    if root is None:
        raise click.UsageError(f"no workspace found: no {WORKSPACE_FILE} in {arg} or above it")
    return root


def _emit(fmt: str, diags: list[Diagnostic], extra: dict[str, Any] | None = None) -> None:
    emit(fmt, extra, diagnostics=diags)


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


def _exit(code: int) -> NoReturn:
    sys.exit(code)


def _compile(root: Path, out: str | None, fmt: str, cache: Cache | None = None) -> CompileResult:
    from compiler.pipeline import compile_workspace

    with _progress(fmt == "text" and not quiet()) as on_stage:
        return compile_workspace(root, out, on_stage=on_stage, cache=cache)


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
def validate(workspace: str, fmt: str, no_cache: bool) -> None:
    """Check a workspace: load, validate, link, render and check, writing no output.

    Like compile, it reuses and updates the incremental cache in .mentat/.

    \b
    Example:
      mentatctl validate examples/shop -o json
    """
    root = workspace_root(workspace)
    cache = None if no_cache else Cache(root)
    replay = cache.replay(None) if cache is not None else None
    if replay is not None:  # the last compile read exactly these inputs, and succeeded
        detail("cache: nothing the last compile read or wrote has changed; its report stands")
        _emit(fmt, replay.diagnostics)
        if fmt == "text":
            for line in replay.waiver_lines:
                info(line)
            info(f"ok: {replay.files} files would be rendered (as the last compile rendered them)")
        _exit(1 if any(d.severity == "error" for d in replay.diagnostics) else 0)
    from compiler.policy import waiver_lines

    try:
        result = _compile(root, None, fmt, cache)
    except LostContent:  # cache entries went missing or bad during the run
        if cache is not None:
            cache.forget_lost()
        cache = None
        result = _compile(root, None, fmt, None)
    if cache is not None and result.ok and result.workspace is not None:
        cache.save(result.workspace.source_digests, written=False)
    _emit(fmt, result.diagnostics)
    if fmt == "text":
        for line in waiver_lines(result.policy.waivers):
            info(line)
    if fmt == "text" and result.ok:
        flows = len(result.workspace.flows) if result.workspace else 0
        info(f"ok: {flows} flows, {len(result.files)} files would be rendered")
    _exit(0 if result.ok else 1)


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
@click.pass_context
def compile_cmd(ctx: click.Context, workspace: str, out: str | None, check: bool, to_stdout: bool,
                target: str | None, fmt: str, no_cache: bool) -> None:
    """Compile a workspace into its output tree, atomically.

    A failed compile leaves the previous output untouched.

    \b
    Examples:
      mentatctl compile                       # writes rendered/
      mentatctl compile --check               # CI drift check, exit 1 on drift
      mentatctl compile --no-cache            # ignore .mentat/ (incremental cache)
      mentatctl compile --stdout --target prod/us-east-1 | kubectl apply -f -
    """
    if check and to_stdout:
        raise click.UsageError("--check and --stdout cannot be combined")
    no_effect_unless(ctx, "target", "--stdout", to_stdout)
    if to_stdout and out is not None:
        raise click.UsageError("--out has no effect with --stdout (nothing is written)")
    root = workspace_root(workspace)
    cache = None if no_cache else Cache(root)
    # --out is relative to where the command runs, the workspace's output to its root
    out = str(Path(out).absolute()) if out is not None else None
    if cache is not None and not to_stdout:
        replay = cache.replay(out)
        if replay is not None:  # nothing changed since the last compile: it stands
            detail("cache: nothing the last compile read or wrote has changed; its report stands")
            _finish(fmt, check, Path(replay.output), replay.files, TreeDiff(),
                    replay.diagnostics, replay.waivers, replay.waiver_lines)
        if not check:  # it writes nothing: no standby to walk or hold
            cache.prescan()  # the output trees are walked while the compile runs
    try:
        _deliver(root, _compile(root, out, fmt, cache), out, fmt, check, to_stdout, target,
                 cache)
    except LostContent:  # cache entries went missing or bad during the compile
        detail("cache: entries went missing during the compile; compiling again without it")
        if cache is not None:
            cache.forget_lost()
        _deliver(root, _compile(root, out, fmt, None), out, fmt, check, to_stdout, target,
                 None)


def _deliver(root: Path, result: CompileResult, out: str | None, fmt: str, check: bool,
             to_stdout: bool, target: str | None, cache: Cache | None) -> NoReturn:
    """Print, compare or write what the compile made, record it in the cache, and exit."""
    if not result.ok or result.workspace is None:
        _emit(fmt, result.diagnostics)
        _exit(1)
    sources = result.workspace.source_digests
    if to_stdout:
        if cache:
            cache.save(sources, written=False)
        _print_stream(result, target)
        _emit(fmt if fmt in TEXT_FORMATS else "text", result.diagnostics)  # stdout is the stream
        _exit(0)
    out_dir, diag = _output_dir(root, result, out)
    if diag is not None:
        _emit(fmt, [*result.diagnostics, diag])
        _exit(1)
    known = cache.output_stats(out_dir) if cache else None
    scanned = cache.scanned(out_dir) if cache else None
    diff = diff_tree(out_dir, result.files, known, scanned)
    standby = cache.standby(out_dir) if cache and diff and not check else None
    if scanned is not None and (standby is None or standby.lock is None):
        # The helper walked the tree before the compile: enough to choose what the held
        # standby rewrites (it replaces the whole tree), not to find nothing changed or
        # to decide which files to link, when a file may have been edited meanwhile.
        diff = diff_tree(out_dir, result.files, known)
        standby = cache.standby(out_dir) if diff and not check else None
    from compiler.policy import waiver_lines, waivers_json

    diags = list(result.diagnostics)
    waivers, lines = waivers_json(result.policy.waivers), waiver_lines(result.policy.waivers)
    stale: list[Diagnostic] = []  # said once, never replayed: the user may sign again
    if diff and not check:
        signed = _signed(out_dir)
        diags += write_tree(out_dir, result.files, diff, standby)
        if signed and not any(d.severity == "error" for d in diags):
            stale.append(_stale_signature(out_dir, diff, signed))
    failed = any(d.severity == "error" for d in diags)
    if cache:
        if not any(f.status in ("limit", "skipped") for f in result.policy.findings):
            # outcomes that depend on timing are not worth replaying
            cache.record(out, result.inputs, Replay(str(out_dir), len(result.files), diags,
                                                    waivers, lines))
        tree_matches = not failed and not (check and diff)
        cache.save(sources, out_dir if tree_matches else None, result.files,
                   written=bool(diff) and not check, standby=standby)
    _finish(fmt, check, out_dir, len(result.files), diff, diags + stale, waivers, lines)


def _finish(fmt: str, check: bool, out_dir: Path, files: int, diff: TreeDiff,
            diags: list[Diagnostic], waivers: list[dict[str, Any]], lines: list[str]) -> NoReturn:
    """Report a compile (or a replayed one) and exit: 1 on errors or, with --check, drift."""
    summary: dict[str, Any] = {
        "output": str(out_dir),
        "files": files,
        "added": diff.added,
        "removed": diff.removed,
        "changed": diff.changed,
        "waivers": waivers,
    }
    if fmt == "text":
        for line in lines:
            info(line)
    if check and diff:
        diags = [*diags, Diagnostic(
            "M700", f"{_shown(out_dir)} is out of date: {len(diff.changed)} changed, "
            f"{len(diff.added)} missing, {len(diff.removed)} extra file(s): "
            + ", ".join((diff.changed + diff.added + diff.removed)[:10]),
            hint="run `mentatctl compile` and commit the result")]
    _emit(fmt, diags, summary)
    failed = any(d.severity == "error" for d in diags)
    if fmt == "text" and not failed:
        n = len(diff.added) + len(diff.removed) + len(diff.changed)
        if check:
            info(f"ok: {_shown(out_dir)} is up to date ({files} files)")
        elif n:
            info(f"compiled {files} files into {_shown(out_dir)} ({n} changed)")
        else:
            info(f"{_shown(out_dir)} is up to date ({files} files)")
    _exit(1 if failed else 0)


def _signed(out_dir: Path) -> str:
    """The signature bundle's name when the output tree is signed, else ''."""
    from compiler.render.layout import SIGNATURE_SUFFIX

    found = sorted(p.name for p in out_dir.glob(f"*{SIGNATURE_SUFFIX}")) if out_dir.is_dir() else []
    return found[0] if found else ""


def _stale_signature(out_dir: Path, diff: TreeDiff, bundle: str) -> Diagnostic:
    """A signed tree this compile changed: the write drops the signature (it covers the old
    index), and the user should know before a deploy refuses the tree."""
    n = len(diff.added) + len(diff.removed) + len(diff.changed)
    return Diagnostic("M805", f"the signature no longer applies: this compile changed {n} "
                      f"signed file(s), so {bundle} was removed", f"{_shown(out_dir)}/{bundle}",
                      severity=Severity.WARNING,
                      hint="sign again (mentatctl sign); until then verify refuses the tree")


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd())) or "."
    except ValueError:
        return str(path)


def _output_dir(root: Path, result: CompileResult, out: str | None) -> tuple[Path, Diagnostic | None]:
    assert result.workspace is not None
    spec = result.workspace.spec
    p = spec.doc.pos(("spec", "output"))
    if out is not None:
        target: Path | None = Path(out).resolve()  # a symlink is followed, not replaced
        shown = out
    else:
        target, shown = output_dir(root, spec.output), spec.output
        if target is None:
            return root, Diagnostic("M107", f"output '{spec.output}' must be a directory inside "
                                    "the workspace", spec.doc.file, p.line, p.col)
    assert target is not None
    conflict = output_conflict(root, target, spec.spec, result.inputs)
    if conflict is not None:
        where = (spec.doc.file, p.line, p.col) if out is None else ("", 0, 0)
        return root, Diagnostic("M701", f"output '{shown}' cannot be written: {conflict}", *where,
                                hint="choose an output directory of its own, e.g. rendered/")
    return target, None


def _print_stream(result: CompileResult, target: str | None) -> None:
    assert result.rendered is not None and result.workspace is not None
    from compiler.render.order import apply_order

    envs = {e.name for e in result.workspace.spec.environments}
    # Argo CD's own objects are not the cluster's: the plugin prints what a leaf deploys.
    objects = apply_order(o for o in result.rendered.objects
                          if o.dir.split("/")[0] != "argocd")
    leaves = sorted({o.dir for o in objects if o.dir.split("/")[0] in envs})
    if target is None and len(leaves) > 1:
        raise click.UsageError("--stdout needs --target, one of: " + ", ".join(leaves))
    chosen = target or (leaves[0] if leaves else "")
    if chosen and chosen not in leaves:
        raise click.UsageError(f"unknown target {chosen!r}; targets: {', '.join(leaves)}")
    picked = [o.obj for o in objects if o.dir == chosen or o.dir.split("/")[0] not in envs]
    sys.stdout.buffer.write(dump_yaml_stream(picked))
    sys.stdout.flush()


def entry() -> None:
    """The console script: `main`, tuned for the one-shot `compile` and `validate`. They
    run without the cyclic garbage collector (a compile allocates millions of acyclic
    objects; its passes cost 10-15% and find nothing) and skip the interpreter's teardown
    (freeing those objects one by one, ~40 ms at 10k objects), as mypy does; everything
    they write is closed and flushed by then. Other commands (the controller) run as usual."""
    one_shot = len(sys.argv) > 1 and sys.argv[1] in ("compile", "validate")
    if one_shot:
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
