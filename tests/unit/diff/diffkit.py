"""A real git repository in a temporary directory holding a small workspace (in a
subdirectory, as in a monorepo), edited and committed step by step, and `mentatctl diff`
run on it through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from compiler.cli import main
from tests.conftest import AGENTS, FLOW, WORKSPACE

__all__ = ["AGENTS", "DIGEST_B", "FLOW", "WORKSPACE", "GitWorkspace", "changes"]

DIGEST_B = "b" * 64

_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


class GitWorkspace:
    def __init__(self, tmp: Path, prefix: str = "platform") -> None:
        self.top = tmp / "repo"
        self.root = self.top / prefix if prefix else self.top
        self.root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.write(".gitignore", ".mentat/\n")  # the incremental cache, as in any workspace
        self.write("mentat.yaml", WORKSPACE)
        self.write("flows/agents.yaml", AGENTS)
        self.write("flows/flow.yaml", FLOW)
        self.commit("initial")

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", "-C", str(self.top), *args], capture_output=True,
                              text=True, env={**os.environ, **_ENV}, check=True)
        return done.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def replace(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert old in text, (old, rel)
        self.write(rel, text.replace(old, new))

    def remove(self, rel: str) -> None:
        self.git("rm", "-q", str((self.root / rel).relative_to(self.top)))

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["diff", str(self.root), *args],
                                  catch_exceptions=False)

    def json(self, base: str, head: str = "HEAD") -> dict[str, Any]:
        result = self.run("--base", base, "--head", head, "-o", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]


def changes(doc: dict[str, Any], op: str) -> list[tuple[str, str, str]]:
    return [(o["target"], o["kind"], o["name"]) for o in doc["objects"] if o["op"] == op]
