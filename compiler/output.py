"""The CLI's one grammar: the `-o/--output` option, `-q/--quiet` and `-v/--verbose`, the usage
checks every command shares (the workspace root, flags without effect), the environment
variables the CLI reads, and the one renderer.

Every command that prints data takes `output_option()` (choices `text json yaml`, `markdown`
where the data is a table, `github` where it is diagnostics; `--format` is an alias kept for
scripts written before) and prints through `emit()`: JSON and YAML carry the same document,
text puts the data on stdout and the diagnostics on stderr. `-q` hides informational lines
and warnings in text output, `-v` adds detail; neither changes JSON or YAML.
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from compiler.diagnostics import Diagnostic, Severity, render_github, render_text, shown, sort_key
from compiler.load import WORKSPACE_FILE, find_workspace_root
from compiler.resources import schemas_dir

__all__ = [
    "DOCUMENT_FORMATS",
    "ENVIRONMENT",
    "TEXT_FORMATS",
    "Table",
    "add_common_options",
    "detail",
    "diagnostics_doc",
    "dump_document",
    "emit",
    "environment_help",
    "error",
    "info",
    "no_effect_unless",
    "notice",
    "output_option",
    "quiet",
    "render_table",
    "table_width",
    "verbose",
    "warning",
    "workspace_option",
    "workspace_root",
]

F = TypeVar("F", bound=Callable[..., Any])

# Every environment variable the CLI reads (the --help epilog and docs/cli.md list them).
ENVIRONMENT: dict[str, str] = {
    "MENTAT_HOME": "directory holding schemas/ and policies/ (default: the installed package's)",
    "MENTAT_TARGET": "compile --stdout: the ENV/REGION to print (as --target)",
    "ARGOCD_ENV_MENTAT_TARGET": "the same, as Argo CD passes plugin variables",
    "MENTAT_PKI_PASSPHRASE": "pki init/issue, sign --pki: passphrase that encrypts or opens keys",
    "SIGSTORE_ID_TOKEN": "sign --keyless: an OIDC token (audience sigstore) outside GitHub Actions",
    "GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_REF, GITHUB_RUN_ID, "
    "GITHUB_RUN_ATTEMPT": "sign: provenance facts when git cannot tell them",
    "MENTAT_CACHE_KEY_FILE": "compile, validate: the incremental cache's HMAC key file "
                             "(default $XDG_CONFIG_HOME/mentatctl/cache.key)",
    "XDG_CONFIG_HOME": "where that key lives by default (default ~/.config)",
    "KUBECONFIG": "apply, controller: the cluster to talk to (as --kubeconfig)",
    "MENTAT_CACHE": "controller: its cache directory (default .mentat/controller)",
    "COLUMNS": "width of text tables (default: the terminal's, 160 when not a terminal)",
}

DOCUMENT_FORMATS = ("json", "yaml")  # formats where stdout is one document, diagnostics inside
TEXT_FORMATS = ("text", "github")  # formats where data goes to stdout as text, diagnostics to stderr

_META_QUIET = "mentat.quiet"
_META_VERBOSE = "mentat.verbose"


class _OutputChoice(click.Choice):
    """A choice that also accepts older names (`table` for `text` in `cost`)."""

    def __init__(self, choices: Sequence[str], aliases: Mapping[str, str]) -> None:
        super().__init__(list(choices))
        self.aliases = dict(aliases)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(self.aliases.get(value, value), param, ctx)


def output_option(*, table: bool = False, github: bool = False,
                  aliases: Mapping[str, str] | None = None, dest: str = "fmt",
                  extra: Sequence[str] = (), default: str = "text",
                  help: str = "Output format.") -> Callable[[F], F]:
    """`-o/--output` (alias `--format`) with the choices every command shares (`extra`: a
    command's own, such as graph's mermaid/dot/svg); the value arrives as `dest`."""
    choices = ["text", "json", "yaml", *(["markdown"] if table else []),
               *(["github"] if github else []), *extra]
    choices = [c for c in choices if c not in (aliases or {})]
    return click.option("-o", "--output", "--format", dest, type=_OutputChoice(choices, aliases or {}),
                        default=default, show_default=True, help=help)


# -- verbosity ---------------------------------------------------------------------------------

def _meta() -> dict[str, Any]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def _set_flag(key: str) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:  # a subcommand's default (False) must not undo the group's -q
            ctx.meta[key] = True
            if ctx.meta.get(_META_QUIET) and ctx.meta.get(_META_VERBOSE):
                raise click.UsageError("-q/--quiet and -v/--verbose cannot be combined", ctx)
    return callback


def _common_params() -> list[click.Option]:
    return [
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_flag(_META_QUIET),
                     help="Print only errors and the data asked for."),
        click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_flag(_META_VERBOSE),
                     help="Print more detail (stages, timings, cache decisions)."),
    ]


def add_common_options(cmd: click.Command) -> click.Command:
    """Give `cmd` (and, for a group, every subcommand) -q/--quiet and -v/--verbose, once."""
    names = {n for p in cmd.params for n in getattr(p, "opts", ())}
    if "--quiet" not in names:
        cmd.params.extend(_common_params())
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            add_common_options(sub)
    return cmd


def quiet() -> bool:
    return bool(_meta().get(_META_QUIET))


def verbose() -> bool:
    return bool(_meta().get(_META_VERBOSE))


def info(message: str) -> None:
    """An informational line on stderr (summaries, waivers): hidden by -q."""
    if not quiet():
        click.echo(message, err=True)


def warning(message: str) -> None:
    """A warning line on stderr that is not a diagnostic (no file to point at): hidden by -q."""
    info(f"warning: {message}")


def notice(message: str) -> None:
    """A line on stderr that -q does not hide: a decision the user must know about."""
    click.echo(message, err=True)


def error(message: str) -> None:
    """An error line on stderr that is not a diagnostic (the command's conclusion)."""
    click.echo(f"error: {message}", err=True)


def detail(message: str) -> None:
    """A line only -v shows."""
    if verbose():
        click.echo(message, err=True)


# -- usage -------------------------------------------------------------------------------------

def no_effect_unless(ctx: click.Context, option: str, needs: str, present: bool) -> None:
    """A flag given on the command line where it does nothing is a usage error (exit 2), so a
    typo in a script is found instead of silently ignored. Values from environment variables
    (Argo CD sets MENTAT_TARGET for every call) and defaults are not."""
    source = ctx.get_parameter_source(option)
    if source is click.core.ParameterSource.COMMANDLINE and not present:
        flag = next(p.opts[0] for p in ctx.command.params if p.name == option and p.opts)
        raise click.UsageError(f"{flag} has no effect without {needs}", ctx)


def workspace_root(arg: str) -> Path:
    """The workspace holding `arg` (a usage error, exit 2, when there is none)."""
    if not (schemas_dir() / "mentatlab.io").is_dir():
        raise click.UsageError(f"the compiler's schemas are missing ({schemas_dir()}): install "
                               "from the repository (pip install -e .) or set MENTAT_HOME")
    root = find_workspace_root(Path(arg))
    if root is None:
        raise click.UsageError(f"no workspace found: no {WORKSPACE_FILE} in {arg} or above it")
    return root


def environment_help() -> str:
    """The epilog of `mentatctl --help`: the environment variables the CLI reads."""
    lines = ["\b", "Environment variables:"]
    lines += [f"  {name}\n      {text}" for name, text in ENVIRONMENT.items()]
    return "\n".join(lines)


def workspace_option(*, argument: bool = True) -> Callable[[F], F]:
    """The workspace, given the same way to every command: `-w/--workspace DIR` (a directory
    at or below the workspace root; default: the current directory), and for the commands
    whose contract has it, as the first argument too. The command receives `workspace`."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = [w for w in (kwargs.pop("workspace_arg", None),
                                 kwargs.pop("workspace_opt", None)) if w is not None]
            if len({os.path.realpath(w) for w in given}) > 1:
                raise click.UsageError("the workspace is given twice, differently: "
                                       + " and ".join(given))
            kwargs["workspace"] = given[0] if given else "."
            return f(*args, **kwargs)

        wrapped: Any = click.option(
            "-w", "--workspace", "workspace_opt", type=click.Path(file_okay=False),
            help="The workspace (a directory at or below mentat.yaml). [default: .]")(wrapper)
        if argument:
            wrapped = click.argument("workspace_arg", metavar="[WORKSPACE]", required=False,
                                     type=click.Path(file_okay=False))(wrapped)
        return wrapped

    return decorate


# -- rendering ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Table:
    """Rows of strings under named columns: text (a terminal-wide table), markdown, and in
    JSON/YAML a list of records keyed by column."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def table_width() -> int:
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((100, 24)).columns
    return 160


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(table: Table, fmt: str = "text", width: int | None = None) -> str:
    if fmt == "markdown":
        lines = [f"**{table.title}**", "", "| " + " | ".join(table.columns) + " |",
                 "|" + "---|" * len(table.columns)]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
        return "\n".join(lines) + "\n"
    from rich.console import Console
    from rich.table import Table as RichTable

    buf = io.StringIO()
    rich = RichTable(title=table.title)
    for col in table.columns:
        rich.add_column(col, overflow="fold")
    for row in table.rows:
        rich.add_row(*row)
    Console(file=buf, width=width or table_width(), force_terminal=False,
            color_system=None).print(rich)
    return buf.getvalue()


def dump_document(fmt: str, document: Mapping[str, Any], stream: bool = False) -> str:
    """`document` as JSON (indented) or YAML (the same data), ending in a newline. `stream`:
    one of many (`compile --watch`): JSON on one line (JSON lines), YAML after `---`."""
    if fmt == "yaml":
        import yaml

        # round-trip through JSON so YAML carries exactly what JSON would (no Python tags)
        return ("---\n" if stream else "") + str(yaml.safe_dump(
            json.loads(json.dumps(document)), sort_keys=False, allow_unicode=True,
            width=1 << 16))
    # non-ASCII text as UTF-8, as YAML and the rendered JSON files (cost.json) print it
    return json.dumps(document, indent=None if stream else 2, ensure_ascii=False) + "\n"


def diagnostics_doc(diags: Iterable[Diagnostic]) -> list[dict[str, object]]:
    return [d.to_dict() for d in sorted(diags, key=sort_key)]


def emit(fmt: str, data: Mapping[str, Any] | None = None, *,
         text: str | bytes | Table | None = None,
         diagnostics: Sequence[Diagnostic] | None = None, ok: bool | None = None,
         stream: bool = False) -> None:
    """Print a command's result in `fmt`: the one renderer every command prints through.

    json/yaml: one document on stdout, `{"ok": ..., "diagnostics": [...], **data}` when
    `diagnostics` is given (ok defaults to "no errors"), else `data` alone.
    `stream`: one document of many (see `dump_document`).
    Any other format (text, github, markdown, or a command's own such as graph's dot): the
    diagnostics on stderr (github: as workflow annotations; warnings hidden by -q), then
    `text` on stdout: a string (a command's own text form), bytes (graph's SVG) or a Table
    (rendered for the terminal, or as markdown).
    """
    if fmt in DOCUMENT_FORMATS:
        document: dict[str, Any] = {}
        if diagnostics is not None:
            document["ok"] = ok if ok is not None else not any(
                d.severity is Severity.ERROR for d in diagnostics)
            first, more = shown(diagnostics)  # a bounded report, as in text
            document["diagnostics"] = diagnostics_doc(first)
            if more:
                document["omitted"] = len(diagnostics) - len(first)
        document.update(data or {})
        click.echo(dump_document(fmt, document, stream), nl=False)
        return
    visible = [d for d in diagnostics or () if not (quiet() and d.severity is not Severity.ERROR)]
    rendered = render_github(visible) if fmt == "github" else render_text(visible)
    if rendered:
        click.echo(rendered, err=True)
    if isinstance(text, Table):
        click.echo(render_table(text, "markdown" if fmt == "markdown" else "text"), nl=False)
    elif isinstance(text, bytes):
        click.echo(text, nl=False)
    elif text:
        click.echo(text, nl=not text.endswith("\n"))
