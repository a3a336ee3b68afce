"""--watch writes the tree on every change: with --check or --stdout it is a usage error
(exit 2) that says so, before anything is compiled or watched."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main


@pytest.mark.parametrize("flag", [["--check"], ["--stdout", "--target", "prod/us-east-1"]])
def test_watch_with_check_or_stdout_is_a_usage_error(example_ws: Path, flag: list[str]) -> None:
    r = CliRunner().invoke(main, ["compile", str(example_ws), "--watch", *flag])
    assert r.exit_code == 2
    assert f"--watch and {flag[0]} cannot be combined" in r.stderr
    assert not (example_ws / "rendered").exists()
