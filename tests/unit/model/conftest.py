"""A Workspace document through the real load and validate stages, to its typed spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.load import load
from compiler.model import WorkspaceSpec
from compiler.validate import validate

MINIMAL = """\
apiVersion: mentatlab.io/v1
kind: Workspace
metadata: {name: demo}
spec:
  sources: [flows/]
  environments:
    - {name: staging, namespace: mentat-staging, regions: [eu-west-1]}
"""

WorkspaceOf = Callable[[str], WorkspaceSpec]


@pytest.fixture
def workspace_of(tmp_path: Path) -> WorkspaceOf:
    """The `WorkspaceSpec` validate builds from `extra` lines appended to a minimal spec."""

    def build(extra: str) -> WorkspaceSpec:
        (tmp_path / "flows").mkdir(exist_ok=True)
        (tmp_path / "mentat.yaml").write_text(MINIMAL + extra)
        loaded = load(tmp_path)
        validated = validate(loaded)
        problems = [*loaded.diagnostics, *validated.diagnostics]
        assert problems == [], problems
        assert validated.workspace is not None
        return validated.workspace

    return build
