"""`mentatctl version`: the compiler, its input schemas, the Kubernetes schema version and the
libraries that decide the output, as text or JSON."""

from __future__ import annotations

import json
from importlib import metadata

from click.testing import CliRunner

from compiler import __version__
from compiler.check import DEFAULT_VERSION
from compiler.cli import main


def test_version_json_names_everything_a_bug_report_needs() -> None:
    r = CliRunner().invoke(main, ["version", "-o", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["compiler"] == __version__
    assert doc["schemas"]["mentatlab.io/v1"] == ["Agent", "Flow", "PolicyRule", "Workspace"]
    assert doc["kubernetes"]["default"] == DEFAULT_VERSION
    assert doc["libraries"]["wasmtime"] == metadata.version("wasmtime")
    assert doc["libraries"]["cel"] == metadata.version("cel-expr-python")
    assert doc["libraries"]["kubernetes-validate"] == metadata.version("kubernetes-validate")


def test_version_text_is_one_fact_a_line() -> None:
    r = CliRunner().invoke(main, ["version"])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"mentatctl {__version__} ")
    assert f"Kubernetes schemas: {DEFAULT_VERSION} by default" in r.stdout
    assert any(line.startswith("wasmtime ") for line in lines)


def test_the_old_version_flag_still_works() -> None:
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0 and __version__ in r.stdout
