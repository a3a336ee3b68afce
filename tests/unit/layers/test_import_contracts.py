"""The import contracts of pyproject.toml's [tool.importlinter] hold: `lint-imports` (the real
program) passes on the tree, and fails when a command imports the CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False, timeout=300)


def test_the_contracts_hold() -> None:
    done = _lint(REPO, REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", done.stdout)
    assert kept and int(kept[1]) >= 4, done.stdout
    assert "commands never import the CLI" in done.stdout


def test_a_command_importing_the_cli_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(REPO / "compiler", tmp_path / "compiler",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    version = tmp_path / "compiler" / "commands" / "version.py"
    version.write_text(version.read_text() + "\nfrom compiler.cli import main  # noqa: E402\n")
    done = _lint(tmp_path, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "compiler.commands.version -> compiler.cli" in done.stdout
    assert re.search(r"Contracts: \d+ kept, 1 broken", done.stdout), done.stdout
