"""The pre-commit hooks name commands that exist and run (pre-commit runs `entry` with no
file names: pass_filenames is false), and the hook file has the fields pre-commit reads."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from click.testing import CliRunner

from compiler.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_hooks_run_mentatctl_on_the_example() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["mentatctl-validate", "mentatctl-compile-check"]
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= hook.keys()
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        program, *args = shlex.split(hook["entry"])
        assert program == "mentatctl"
        result = CliRunner().invoke(main, [*args, str(REPO)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
