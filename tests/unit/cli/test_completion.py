"""`mentatctl completion bash|zsh|fish` prints a script, and the completion it calls back into
really completes commands and option choices."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

MENTATCTL = Path(sys.executable).parent / "mentatctl"


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o nosort -F"),
                                               ("zsh", "#compdef mentatctl"),
                                               ("fish", "complete --no-files --command mentatctl")])
def test_script_for_each_shell(shell: str, marker: str) -> None:
    r = CliRunner().invoke(main, ["completion", shell])
    assert r.exit_code == 0 and marker in r.stdout and "_MENTATCTL_COMPLETE" in r.stdout


def test_unknown_shell_is_a_usage_error() -> None:
    assert CliRunner().invoke(main, ["completion", "tcsh"]).exit_code == 2


def _complete(words: str) -> list[str]:
    assert MENTATCTL.is_file(), f"{MENTATCTL} missing: install the package (pip install -e .)"
    env = {**os.environ, "_MENTATCTL_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    out = subprocess.run([str(MENTATCTL)], env=env, capture_output=True, text=True, check=False,
                         timeout=60)
    return [line.split(",", 1)[1] for line in out.stdout.splitlines()]


def test_completion_completes_commands_and_choices() -> None:
    assert {"compile", "completion"} <= set(_complete("mentatctl comp"))
    assert _complete("mentatctl version -o ") == ["text", "json", "yaml"]
