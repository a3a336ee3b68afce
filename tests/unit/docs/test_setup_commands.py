"""The README's set-up commands work on a fresh machine as written: each makes its own venv
and uses it (no system pip, which Debian refuses, no activation), and CI runs the test command
verbatim (.ci/run)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Set up"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_each_command_makes_and_uses_its_own_venv() -> None:
    commands = setup_commands()
    assert len(commands) == 2
    for cmd in commands:
        steps = [s.strip() for s in cmd.split("&&")]
        assert steps[0] == "python3 -m venv .venv", cmd
        assert all(s.startswith(".venv/bin/") for s in steps[1:]), cmd


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = setup_commands()[1]
    assert "pytest" in test_command
    assert test_command in (REPO / ".ci" / "run").read_text().splitlines()
