"""Workspaces and a runner for the renderer's tests: the example workspace, the example with
problems (one quoting a credential), and `mentatctl` run through click's CliRunner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from compiler.cli import main

SECRET = "Zk7PlantedSecret"

# An agent whose cpu is a URL carrying credentials: validate quotes the value (M201), and the
# quote must come out redacted in every format.
LEAKY_AGENT = f"""\
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: leaky, version: 1.0.0}}
spec:
  runtime: container
  image: ghcr.io/mentatlab/leaky@sha256:{"a" * 64}
  outputs: [{{name: o, type: text}}]
  resources: {{cpu: "https://u:{SECRET}@x.io/?sig={SECRET}", memory: 64Mi}}
"""

Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    def invoke(*args: str | Path) -> Result:
        result = CliRunner().invoke(main, [str(a) for a in args])
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        return result

    return invoke


@pytest.fixture
def ws(example_ws: Path) -> Path:
    """The example workspace (flows, mentat.yaml with pricing), without its output."""
    return example_ws


@pytest.fixture
def broken(ws: Path) -> Path:
    """The example with an agent that fails validation by quoting a credential."""
    (ws / "flows" / "agents" / "leaky.yaml").write_text(LEAKY_AGENT)
    return ws
