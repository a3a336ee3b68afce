"""Every stage's product on each golden workspace, compared with a committed text golden.

`tests/golden/<case>/stages/<stage>.txt` holds what `compile_workspace(stop_after=<stage>)`
produces on `<case>/input/` (see `stages.py` for what each stage's text shows); the example
workspace at the repository root, which uses every renderer, has its goldens in
`tests/golden/example/stages/`. A change in a
stage shows up in that stage's golden, where a reviewer reads it, before it reaches the output
tree. `pytest --update-golden` rewrites the goldens that differ (only those) from the current
compiler; review the diff.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cache import Cache
from compiler.cli import main
from tests.golden.stages import DUMPERS, STAGE_NAMES, snapshot, unified

HERE = Path(__file__).parent
REPO = HERE.parents[1]
CASES = sorted(p.parent.name for p in HERE.glob("*/input"))
# golden name -> workspace; the example is absent where these tests are copied alone
# (test_update_golden_flag.py's sandbox)
WORKSPACES = {case: HERE / case / "input" for case in CASES} | (
    {"example": REPO} if (REPO / "mentat.yaml").is_file() else {})


def check_or_update(golden: Path, actual: str, update: bool) -> str:
    """The diff between `golden` and `actual` ("" when equal); with `update`, `golden` is
    rewritten instead when it differs (an equal golden is left untouched) and "" returned."""
    expected = golden.read_text() if golden.is_file() else None
    if expected == actual:
        return ""
    if update:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual)
        return ""
    return unified(expected, actual, golden.relative_to(HERE).as_posix())


@pytest.mark.parametrize("stage", STAGE_NAMES)
@pytest.mark.parametrize("case", WORKSPACES)
def test_stage_golden(case: str, stage: str, update_golden: bool) -> None:
    golden = HERE / case / "stages" / f"{stage}.txt"
    differ = check_or_update(golden, snapshot(WORKSPACES[case], stage), update_golden)
    assert not differ, f"stage {stage!r} differs (pytest --update-golden to accept):\n{differ}"


def test_every_stage_has_a_dumper() -> None:
    assert list(DUMPERS) == list(STAGE_NAMES), \
        "tests/golden/stages.py: add a dumper for each stage of compiler.pipeline.STAGES"


@pytest.mark.parametrize("case", WORKSPACES)
def test_no_golden_for_a_stage_that_is_gone(case: str) -> None:
    stale = sorted(p.name for p in (HERE / case / "stages").glob("*.txt")
                   if p.stem not in STAGE_NAMES)
    assert not stale, f"{case}/stages: goldens of stages the pipeline no longer has: {stale}"


@pytest.mark.parametrize("case", WORKSPACES)
def test_a_warm_cache_changes_no_stage_product(case: str, tmp_path: Path) -> None:
    """Once `mentatctl compile` has filled .mentat/, every stage gives through the cache what
    it gives without one: unchanged, and after one flow was edited."""
    ws = tmp_path / "ws"
    if case == "example":  # its sources, not its rendered/ or .mentat/
        shutil.copytree(REPO / "flows", ws / "flows")
        shutil.copy(REPO / "mentat.yaml", ws / "mentat.yaml")
    else:
        shutil.copytree(WORKSPACES[case], ws)
    compiled = CliRunner().invoke(main, ["compile", "-w", str(ws)])
    assert compiled.exit_code == 0, compiled.output
    flow = next(p for p in sorted(ws.rglob("*.yaml")) if "kind: Flow" in p.read_text()
                and p.relative_to(ws).parts[0] not in (".mentat", "rendered"))
    assert "owner: " in flow.read_text(), flow
    for edit in (None, "owner: x-"):
        if edit:
            flow.write_text(flow.read_text().replace("owner: ", edit, 1))
        for stage in STAGE_NAMES:
            assert snapshot(ws, stage, cache=Cache(ws)) == snapshot(ws, stage), (edit, stage)
