"""Whole compiles compared byte for byte with committed expectations.

Each case is `tests/golden/<case>/input/` (a workspace) and `expected/` (its output tree);
`stages/` holds what each stage produces on it (test_stages.py). `pytest --update-golden`
rewrites the expectations that differ from the current compiler; review the diff
(test_update_golden_flag.py tests the flag itself).
The example workspace at the repository root is a golden case too: its expectation is the
committed rendered/ tree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.pipeline import compile_workspace
from compiler.write import read_tree, write_tree
from tests.golden.stages import unified

HERE = Path(__file__).parent
REPO = HERE.parents[1]
CASES = sorted(p.parent.name for p in HERE.glob("*/input"))


def compare_or_update(workspace: Path, expected: Path, update: bool) -> list[str]:
    """Paths that differ; with `update`, rewrite `expected` instead (only when something
    differs: an up-to-date golden is left untouched) and return []."""
    result = compile_workspace(workspace)
    assert result.ok, result.diagnostics
    on_disk = read_tree(expected)
    differ = sorted(p for p in set(on_disk) | set(result.files)
                    if on_disk.get(p) != result.files.get(p))
    if update and differ:
        problems = write_tree(expected, result.files)
        assert not problems, "\n".join(f"{d.code}: {d.message}" for d in problems)
        return []
    return differ


def explain(workspace: Path, expected: Path, differ: list[str], shown: int = 3) -> str:
    """The unified diff of the first `shown` differing files, golden against compiler."""
    files = compile_workspace(workspace).files
    parts = []
    for rel in differ[:shown]:
        old, new = expected / rel, files.get(rel)
        parts.append(unified(old.read_bytes() if old.is_file() else None, new, rel))
    more = f"\n... and {len(differ) - shown} more file(s)" if len(differ) > shown else ""
    return "\n".join(parts) + more


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    workspace, expected = HERE / case / "input", HERE / case / "expected"
    differ = compare_or_update(workspace, expected, update_golden)
    assert not differ, f"{len(differ)} file(s) differ (pytest --update-golden to accept): " \
        f"{differ[:10]}\n{explain(workspace, expected, differ)}"


def test_example_workspace_matches_committed_rendered(update_golden: bool) -> None:
    differ = compare_or_update(REPO, REPO / "rendered", update_golden)
    assert not differ, f"rendered/ is stale; run `mentatctl compile`: {differ[:10]}\n" \
        f"{explain(REPO, REPO / 'rendered', differ)}"


def test_update_golden_rewrites_expectations(tmp_path: Path) -> None:
    case = tmp_path / "case"
    shutil.copytree(HERE / CASES[0] / "input", case / "input")
    expected = case / "expected"
    assert compare_or_update(case / "input", expected, update=False)  # nothing there yet
    assert compare_or_update(case / "input", expected, update=True) == []
    assert compare_or_update(case / "input", expected, update=False) == []
    flow = case / "input" / "flows" / "flow.yaml"
    flow.write_text(flow.read_text().replace("replicas: 2", "replicas: 5"))
    differ = compare_or_update(case / "input", expected, update=False)
    assert "index.json" in differ and len(differ) >= 2


def test_output_is_identical_wherever_the_workspace_lives(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "ws", tmp_path / "elsewhere" / "deeper" / "ws"
    for d in (a, b):
        shutil.copytree(REPO / "flows", d / "flows")
        shutil.copy(REPO / "mentat.yaml", d / "mentat.yaml")
    first, second = compile_workspace(a), compile_workspace(b)
    assert first.files and first.files == second.files
    assert compile_workspace(a).files == first.files
