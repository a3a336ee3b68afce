"""A first compile streams its files into a hidden staging tree while it runs: the output
appears only when the whole compile succeeded, and is the same as any other compile's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.write import Staging, read_tree
from tests.unit.policy.test_stage import POLICIES, team_rule


def _compile(root: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["compile", str(root), *args])


def test_a_first_compile_writes_the_same_tree_as_a_recompile(make_ws: Any, tmp_path: Path
                                                             ) -> None:
    root = make_ws()
    assert _compile(root).exit_code == 0  # streamed: rendered/ did not exist
    first = read_tree(root / "rendered")
    assert first and "index.json" in first
    again = tmp_path / "again"
    again.mkdir()
    (again / "index.json").write_text("{}")  # an existing tree: nothing streamed
    assert _compile(root, "--no-cache", "--out", str(again)).exit_code == 0
    assert read_tree(again) == first
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".rendered")) == []


def test_a_compile_failing_after_emission_leaves_no_output(
        make_ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # rendered-phase policy findings arrive after every object was emitted (and streamed)
    rule = team_rule("three-replicas", "[Deployment]", "object.spec.replicas >= 3")
    root = make_ws({"team-policies/r.yaml": rule}, workspace=POLICIES)
    streamed: list[str] = []
    real = Staging.add
    monkeypatch.setattr(Staging, "add", lambda self, rel, content: (
        streamed.append(rel), real(self, rel, content))[1])
    result = _compile(root)
    assert result.exit_code == 1 and "three-replicas says no" in result.output
    assert any(rel.endswith(".yaml") for rel in streamed)
    assert [p.name for p in root.iterdir() if "rendered" in p.name] == []
