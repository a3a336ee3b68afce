"""JSON prints non-ASCII text as UTF-8, as YAML and the rendered JSON files do: `cost -o json`
is byte for byte the cost.json compile writes (its formulas hold "×")."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from compiler.output import emit, output_option
from tests.conftest import REPO
from tests.unit.output.conftest import Run


@click.command()
@output_option()
def show(fmt: str) -> None:
    emit(fmt, {"owner": "Zoë Müller", "formula": "2 × 0.5"})


def test_json_and_yaml_print_the_characters_themselves() -> None:
    as_json = CliRunner().invoke(show, ["-o", "json"]).stdout
    as_yaml = CliRunner().invoke(show, ["-o", "yaml"]).stdout
    assert "Zoë Müller" in as_json and "2 × 0.5" in as_json and "\\u" not in as_json
    assert "Zoë Müller" in as_yaml and yaml.safe_load(as_yaml) == json.loads(as_json)


def test_cost_json_is_the_rendered_cost_json(run: Run, ws: Path) -> None:
    r = run("cost", "-w", ws, "-o", "json")
    expected = (REPO / "rendered" / "cost.json").read_bytes()
    assert "×".encode() in expected
    assert r.exit_code == 0 and r.stdout_bytes == expected


def test_catalog_json_on_stdout_is_the_file_it_writes(run: Run, ws: Path) -> None:
    r = run("catalog", "-w", ws, "-o", "json")
    assert r.exit_code == 0 and r.stdout_bytes == (ws / "catalog" / "catalog.json").read_bytes()
