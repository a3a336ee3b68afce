"""docs/cli.md is every command's --help, as the CLI prints it (pytest --update-golden rewrites
the generated part), so the reference cannot drift from the code; every command's help has an
example."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from compiler.cli import main

DOC = Path(__file__).resolve().parents[3] / "docs" / "cli.md"
BLOCK = re.compile(r"(<!-- commands:start -->\n)(.*?)(<!-- commands:end -->)", re.S)


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from commands(cmd, (*prefix, name))


def help_text(path: tuple[str, ...]) -> str:
    r = CliRunner(env={"COLUMNS": "100"}).invoke(main, [*path, "--help"], prog_name="mentatctl",
                                                     terminal_width=100)
    assert r.exit_code == 0, r.output
    return r.stdout.rstrip() + "\n"


def reference() -> str:
    parts = []
    for path in [(), *commands()]:
        title = " ".join(("mentatctl", *path))
        parts.append(f"### `{title}`\n\n```text\n{help_text(path)}```\n")
    return "\n".join(parts)


def test_cli_reference_is_the_cli(update_golden: bool) -> None:
    text = DOC.read_text()
    m = BLOCK.search(text)
    assert m, "docs/cli.md lacks the commands markers"
    if update_golden:
        DOC.write_text(text[: m.start(2)] + reference() + text[m.end(2):])
        return
    assert m.group(2) == reference(), "run pytest --update-golden to sync docs/cli.md"


def test_every_command_has_an_example() -> None:
    for path in commands():
        ctx = click.Context(main)
        cmd: click.Command | None = main
        for name in path:
            assert isinstance(cmd, click.Group)
            cmd = cmd.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            continue  # a group's subcommands carry the examples
        assert "Example" in help_text(path), path
