"""The inline-expectation harness itself, run by pytester in a sandbox holding it and one
fixture: a wrong, missing or extra expectation fails, naming what differs. (The harness has
no update mode: expectations are written by hand on the line that causes them.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent
CASE = "followon"  # one expectation: flows/agents.yaml `version: 2.1  # E: M204 ...`
INI = """\
[pytest]
addopts = -p no:cacheprovider --import-mode=importlib
pythonpath = .
filterwarnings = error
"""
TEST = "tests/diagnostics/test_inline_expectations.py::test_diagnostics_match_inline_expectations"


@pytest.fixture
def agents(pytester: pytest.Pytester) -> Path:
    """The sandbox's copy of the fixture file that carries the expectation."""
    root = pytester.path
    (root / "pytest.ini").write_text(INI)
    diagnostics = root / "tests" / "diagnostics"
    diagnostics.mkdir(parents=True)
    shutil.copy(HERE.parent / "conftest.py", root / "tests" / "conftest.py")
    shutil.copy(HERE / "test_inline_expectations.py", diagnostics)
    shutil.copytree(HERE / CASE, diagnostics / CASE)
    path = diagnostics / CASE / "flows" / "agents.yaml"
    assert "# E: M204 metadata.version: expected string, got float" in path.read_text()
    return path


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest_subprocess(TEST, "-q")


def test_the_fixture_as_committed_passes(pytester: pytest.Pytester, agents: Path) -> None:
    run(pytester).assert_outcomes(passed=1)


def test_a_different_message_fails(pytester: pytest.Pytester, agents: Path) -> None:
    agents.write_text(agents.read_text().replace("got float", "got an integer"))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected but not reported (or different message):*"
                                 "flows/agents.yaml*M204*got an integer*",
                                 "*reported:*got float*"])


def test_an_expectation_on_the_wrong_line_fails(pytester: pytest.Pytester, agents: Path) -> None:
    text = agents.read_text()
    comment = "  # E: M204 metadata.version: expected string, got float"
    lines = text.replace(comment, "").splitlines()
    where = next(i for i, line in enumerate(lines) if line.startswith("spec:"))
    lines[where] += comment
    agents.write_text("\n".join(lines) + "\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected but not reported*"])


def test_a_diagnostic_nobody_expected_fails(pytester: pytest.Pytester, agents: Path) -> None:
    agents.write_text(agents.read_text().replace("{name: writer, version: 1.0.0}",
                                                 "{name: writer, version: 1.5}"))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*reported but not expected:*flows/agents.yaml:14: M204*"])


def test_a_case_that_expects_nothing_is_refused(pytester: pytest.Pytester, agents: Path) -> None:
    agents.write_text(agents.read_text().replace(
        "  # E: M204 metadata.version: expected string, got float", ""))
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*a diagnostics case must expect something*"])
