"""Every environment variable the CLI reads is named in `mentatctl --help` (and in docs/cli.md,
see tests/unit/docs)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from compiler.cli import main
from compiler.output import ENVIRONMENT

PACKAGE = Path(__file__).resolve().parents[3] / "compiler"
# os.environ.get("X") / os.environ["X"] / env.get("X") / envvar=[...] / NAME_ENV = "X"
READS = re.compile(r"""(?:environ(?:\.get)?[\[(]|env\.get\(|env\[|_ENV\s*=\s*)["']([A-Z][A-Z0-9_]+)["']""")
ENVVAR = re.compile(r"envvar=\[?([^)\]]+)")


def read_by_the_cli() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        names |= set(READS.findall(text))
        for group in ENVVAR.findall(text):
            names |= set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", group))
    return names - {"GIT_TERMINAL_PROMPT", "LC_ALL"}  # set for git, not read


def listed() -> set[str]:
    return {n.strip() for key in ENVIRONMENT for n in key.split(",")}


def test_every_variable_read_is_listed() -> None:
    found = read_by_the_cli()
    assert {"MENTAT_HOME", "MENTAT_TARGET", "MENTAT_PKI_PASSPHRASE", "SIGSTORE_ID_TOKEN"} <= found
    assert found <= listed(), found - listed()


def test_help_names_them() -> None:
    out = CliRunner().invoke(main, ["--help"]).stdout
    for name in listed():
        assert name in out, name
