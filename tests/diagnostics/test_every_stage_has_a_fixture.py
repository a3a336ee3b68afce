"""Every stage of the pipeline has an inline-expectation fixture whose diagnostics it reports,
unless no source line can make it report one (listed here with the reason).

The stage that reports a diagnostic is the first `stop_after` at which it appears; a
diagnostic, once reported, stays reported by every later stop (a stage never drops another's
findings), so `--stop-after` shows a prefix of what the whole compile says.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from compiler.pipeline import STAGES, compile_workspace
from tests.diagnostics.test_inline_expectations import CASES, KNOWN_BUGS, expectations

HERE = Path(__file__).parent
STAGE_NAMES = list(STAGES)
RUNNABLE = sorted(set(CASES) - set(KNOWN_BUGS))

# stage -> why no fixture can make it report a diagnostic
NO_DIAGNOSTICS: dict[str, str] = {
    "layout": "render refuses two objects that would share a file (M500, reserved-names/): "
              "layout has nothing left to find",
    "check": "M600 and M601 are compiler bugs: no input renders an invalid object or collector "
             "(test_every_code_has_a_fixture.py ELSEWHERE names the tests that check them)",
}

Key = tuple[str, int, str]  # file, line, code


def reported_by_stage(root: Path) -> dict[str, set[Key]]:
    """stage -> the diagnostics the compile has reported once it stops after that stage."""
    return {stage: {(d.file, d.line, d.code)
                    for d in compile_workspace(root, stop_after=stage).diagnostics}
            for stage in STAGE_NAMES}


def first_stage(by_stage: dict[str, set[Key]]) -> dict[Key, str]:
    first: dict[Key, str] = {}
    for stage in STAGE_NAMES:
        for key in by_stage[stage]:
            first.setdefault(key, stage)
    return first


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, set[Key]]]:
    return {case: reported_by_stage(HERE / case) for case in RUNNABLE}


def test_every_stage_reports_in_some_fixture(runs: dict[str, dict[str, set[Key]]]) -> None:
    covered: dict[str, list[str]] = {}
    for case, by_stage in runs.items():
        expected = {(f, line, code) for f, line, code, _ in expectations(HERE / case)}
        for key, stage in first_stage(by_stage).items():
            if key in expected:
                covered.setdefault(stage, []).append(case)
    for case, (stage, _) in KNOWN_BUGS.items():
        covered.setdefault(stage, []).append(case)
    missing = [s for s in STAGE_NAMES if s not in covered and s not in NO_DIAGNOSTICS]
    assert not missing, f"stages no fixture under tests/diagnostics/ exercises: {missing}"
    pointless = sorted(set(NO_DIAGNOSTICS) & set(covered))
    assert not pointless, f"these stages have a fixture now, drop them from NO_DIAGNOSTICS: " \
        f"{ {s: covered[s] for s in pointless} }"
    assert set(NO_DIAGNOSTICS) <= set(STAGE_NAMES), "NO_DIAGNOSTICS names a stage that is gone"


@pytest.mark.parametrize("case", RUNNABLE)
def test_a_reported_diagnostic_stays_reported(
        case: str, runs: dict[str, dict[str, set[Key]]]) -> None:
    by_stage = runs[case]
    for earlier, later in pairwise(STAGE_NAMES):
        dropped = sorted(by_stage[earlier] - by_stage[later])
        assert not dropped, f"reported after {earlier!r}, gone after {later!r}: {dropped}"
    assert by_stage[STAGE_NAMES[-1]] == {
        (d.file, d.line, d.code) for d in compile_workspace(HERE / case).diagnostics}


def test_stages_report_in_pipeline_order(runs: dict[str, dict[str, set[Key]]]) -> None:
    """What each fixture's expectations say about where they are found, as one table: a
    diagnostic moving to another stage is a change in the pipeline a reviewer should see."""
    order = {stage: i for i, stage in enumerate(STAGE_NAMES)}
    table = {case: [f"{stage}:{code}" for stage, code in sorted(
                 {(stage, key[2]) for key, stage in first_stage(by_stage).items()},
                 key=lambda sc: (order[sc[0]], sc[1]))]
             for case, by_stage in runs.items()}
    assert table == EXPECTED_STAGES, table


# case -> "stage:code" for every code the case's compile reports, by the first stage that does,
# in pipeline order. The code table's stage column groups codes by number (M3xx link); the
# pipeline reports M107 and M306 in validate and M310 in wasm.
EXPECTED_STAGES: dict[str, list[str]] = {
    "reserved-names": ["render:M500"],
    "followon": ["validate:M204"],
    "link": ["validate:M306", "link:M300", "link:M301", "link:M302", "link:M303", "link:M304",
             "link:M305", "link:M307", "link:M308", "link:M309"],
    "load": ["load:M100", "load:M101", "load:M105", "load:M110", "load:M112"],
    "policy": ["policy:M400", "policy:M402", "policy:M403", "policy:M404",
               "policy-rendered:M400"],
    "render": ["render:M500", "render:M520", "render:M521"],
    "rules": ["policy:M401"],
    "schema": ["validate:M107", "validate:M200", "validate:M201", "validate:M202", "validate:M203",
               "validate:M204", "validate:M205", "validate:M206", "validate:M207"],
    "v1alpha1": ["load:M111", "validate:M202", "link:M300", "link:M303", "link:M304"],
    "wasm": ["wasm:M310", "wasm:M510", "wasm:M511", "wasm:M512", "wasm:M513", "wasm:M514"],
    "workspace": ["load:M108"],
    "yaml": ["load:M102", "load:M103", "load:M104", "load:M109"],
}
