"""One -o/--output grammar: every command that prints data takes -o/--output with --format as
an alias, the same choices (text json yaml, markdown only for tables), and YAML carries what
JSON does."""

from __future__ import annotations

import json
from collections.abc import Iterator

import click
import yaml
from click.testing import CliRunner

from compiler.cli import main
from compiler.commands import COMMANDS


def _commands() -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(main)
    stack: list[tuple[str, click.Command]] = [
        (name, cmd) for name in main.list_commands(ctx) if (cmd := main.get_command(ctx, name))]
    while stack:
        name, cmd = stack.pop()
        if isinstance(cmd, click.Group):
            stack += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
        else:
            yield name, cmd


def test_every_registered_command_is_listed() -> None:
    ctx = click.Context(main)
    assert set(COMMANDS) <= set(main.list_commands(ctx))
    assert {"validate", "compile", "version", "completion"} <= set(main.list_commands(ctx))


def test_every_format_option_is_the_shared_output_option() -> None:
    seen = 0
    for name, cmd in _commands():
        for p in cmd.params:
            if "--format" in getattr(p, "opts", ()) or "--output" in getattr(p, "opts", ()):
                seen += 1
                assert {"-o", "--output", "--format"} <= set(p.opts), name
                choices = set(p.type.choices) | set(getattr(p.type, "aliases", {}))  # type: ignore[attr-defined]
                assert {"text", "json", "yaml"} <= choices, name
                own = {"mermaid", "dot", "svg", "table"} if name == "graph" or name == "cost" else set()
                assert choices <= {"text", "json", "yaml", "markdown", "github", *own}, name
    assert seen >= 8


def test_yaml_output_is_the_json_document(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws({"flows/bad.yaml": "a: 1\na: 2\n"})
    runner = CliRunner()
    as_json = runner.invoke(main, ["validate", str(root), "-o", "json"])
    as_yaml = runner.invoke(main, ["validate", str(root), "--output", "yaml"])
    alias = runner.invoke(main, ["validate", str(root), "--format", "json"])
    assert as_json.exit_code == as_yaml.exit_code == alias.exit_code == 1
    doc = json.loads(as_json.stdout)
    assert doc["diagnostics"][0]["code"] == "M103"
    assert yaml.safe_load(as_yaml.stdout) == doc == json.loads(alias.stdout)


def test_tables_print_as_markdown_and_records() -> None:
    runner = CliRunner()
    md = runner.invoke(main, ["policy", "list", "-o", "markdown"])
    assert md.exit_code == 0, md.output
    assert "| id | severity | phase |" in md.stdout and "| image-pinned-by-digest |" in md.stdout
    as_yaml = runner.invoke(main, ["policy", "list", "-o", "yaml"])
    rules = yaml.safe_load(as_yaml.stdout)["rules"]
    assert as_yaml.exit_code == 0 and "image-pinned-by-digest" in {r["id"] for r in rules}


def test_an_unknown_choice_is_a_usage_error() -> None:
    r = CliRunner().invoke(main, ["version", "-o", "xml"])
    assert r.exit_code == 2 and "'xml' is not one of" in r.stderr
    r = CliRunner().invoke(main, ["version", "-o", "markdown"])  # not a table
    assert r.exit_code == 2


def test_text_tables_fit_the_terminal() -> None:
    from compiler.output import Table, render_table

    table = Table("rules", ("id", "description"), [("a-rule", "word " * 40)])
    for width in (50, 80, 120):
        lines = render_table(table, width=width).splitlines()
        assert lines and max(len(line) for line in lines) <= width
        assert "word" in "".join(lines)


def test_columns_sets_the_width(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from compiler.output import table_width

    monkeypatch.setenv("COLUMNS", "72")
    assert table_width() == 72
    monkeypatch.delenv("COLUMNS")
    assert table_width() == 160  # not a terminal (pytest captures stdout)
