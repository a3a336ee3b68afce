"""`pytest --update-golden` itself, run in a sandbox by pytester: the golden tests and the flag
(tests/conftest.py) are copied there with one golden case, an expectation is changed, and
pytest runs in a subprocess with and without the flag.

The inline-expectation harness (tests/diagnostics/) has no update mode: its expectations are
written by hand, next to the line that causes them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.pipeline import STAGES

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent
TESTS = HERE.parent
CASE = "service-basic"
# per case: the output golden and one golden per stage; and the check for removed stages
PER_CASE = 1 + len(STAGES)
ALL = PER_CASE + 1
# the tests that compare with goldens, and write them with the flag
GOLDEN_TESTS = ("tests/golden/test_golden.py::test_golden",
                "tests/golden/test_stages.py::test_stage_golden",
                "tests/golden/test_stages.py::test_no_golden_for_a_stage_that_is_gone")
INI = """\
[pytest]
addopts = -p no:cacheprovider --import-mode=importlib
pythonpath = .
filterwarnings = error
"""


@pytest.fixture
def sandbox(pytester: pytest.Pytester) -> Path:
    """A project holding the golden harness, its flag and one case with its goldens."""
    root = pytester.path
    (root / "pytest.ini").write_text(INI)
    golden = root / "tests" / "golden"
    golden.mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", root / "tests" / "conftest.py")
    for name in ("test_golden.py", "test_stages.py", "stages.py"):
        shutil.copy(HERE / name, golden / name)
    shutil.copytree(HERE / CASE, golden / CASE)
    return root


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root` (the sandbox's tests/ when not said), with its content and
    modification time; pytester keeps the runs' stdout and stderr beside tests/."""
    if (root / "tests").is_dir():
        root = root / "tests"
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*GOLDEN_TESTS, "-q", *args)


def test_a_changed_stage_golden_fails_with_a_diff_and_the_flag_rewrites_only_it(
        pytester: pytest.Pytester, sandbox: Path) -> None:
    link = sandbox / "tests" / "golden" / CASE / "stages" / "link.txt"
    right = link.read_text()
    assert "  2. sum -> summarizer@1.2.0 replicas=1\n" in right
    link.write_text(right.replace("summarizer@1.2.0 replicas=1", "summarizer@1.2.0 replicas=3"))
    before = snapshot(sandbox)

    failed = run(pytester)
    failed.assert_outcomes(passed=ALL - 1, failed=1)
    failed.stdout.fnmatch_lines([
        "*test_stage_golden*service-basic-link*",
        "*stage 'link' differs (pytest --update-golden to accept):*",
        f"*--- {CASE}/stages/link.txt (golden)*",
        f"*+++ {CASE}/stages/link.txt (compiler)*",
        "*-  2. sum -> summarizer@1.2.0 replicas=3*",
        "*+  2. sum -> summarizer@1.2.0 replicas=1*",
    ])
    assert snapshot(sandbox) == before, "a run without the flag wrote something"

    run(pytester, "--update-golden").assert_outcomes(passed=ALL)
    assert link.read_text() == right
    after = snapshot(sandbox)
    rel = link.relative_to(sandbox / "tests").as_posix()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert changed == [rel], "the flag touched files whose golden was up to date"

    run(pytester).assert_outcomes(passed=ALL)
    run(pytester, "--update-golden").assert_outcomes(passed=ALL)
    assert snapshot(sandbox) == after, "the flag rewrote up-to-date goldens"


def test_a_changed_output_golden_fails_with_a_diff_and_the_flag_rewrites_it(
        pytester: pytest.Pytester, sandbox: Path) -> None:
    expected = sandbox / "tests" / "golden" / CASE / "expected"
    deployment = expected / "prod" / "us-east-1" / "deployment-digest-fetch.yaml"
    right = deployment.read_text()
    assert "  replicas: 2\n" in right
    deployment.write_text(right.replace("  replicas: 2\n", "  replicas: 9\n"))
    outside = {p: v for p, v in snapshot(sandbox).items() if "/expected/" not in p}

    failed = run(pytester)
    failed.assert_outcomes(passed=ALL - 1, failed=1)
    failed.stdout.fnmatch_lines([
        "*1 file(s) differ (pytest --update-golden to accept):*deployment-digest-fetch.yaml*",
        "*--- prod/us-east-1/deployment-digest-fetch.yaml (golden)*",
        "*-  replicas: 9*",
        "*+  replicas: 2*",
    ])

    run(pytester, "--update-golden").assert_outcomes(passed=ALL)
    assert deployment.read_text() == right
    assert {p: v for p, v in snapshot(sandbox).items() if "/expected/" not in p} == outside


def test_the_flag_creates_goldens_only_for_cases(pytester: pytest.Pytester, sandbox: Path) -> None:
    """A directory without input/ is not a case: the flag writes nothing there. A new case
    gets its goldens from the flag, and only with it."""
    golden = sandbox / "tests" / "golden"
    notes = golden / "notes"
    notes.mkdir()
    (notes / "README.md").write_text("not a workspace\n")
    shutil.copytree(golden / CASE / "input", golden / "new-case" / "input")

    missing = run(pytester)
    missing.assert_outcomes(passed=ALL + 1, failed=PER_CASE)
    missing.stdout.fnmatch_lines(["*new-case/stages/load.txt: missing from the golden*"])
    assert not (golden / "new-case" / "expected").exists()
    assert not (golden / "new-case" / "stages").exists()

    run(pytester, "--update-golden").assert_outcomes(passed=ALL + PER_CASE + 1)
    assert sorted(p.name for p in notes.iterdir()) == ["README.md"]
    for kind in ("expected", "stages"):
        ours = snapshot(golden / CASE / kind)
        assert {p: c for p, (c, _) in snapshot(golden / "new-case" / kind).items()} == \
            {p: c for p, (c, _) in ours.items()}, f"new-case/{kind} is not what the compiler makes"


def test_a_golden_of_a_removed_stage_is_reported_not_deleted(
        pytester: pytest.Pytester, sandbox: Path) -> None:
    stale = sandbox / "tests" / "golden" / CASE / "stages" / "optimise.txt"
    stale.write_text("a stage the pipeline no longer has\n")
    for args in ((), ("--update-golden",)):
        result = run(pytester, *args)
        result.assert_outcomes(passed=ALL - 1, failed=1)
        result.stdout.fnmatch_lines(
            ["*goldens of stages the pipeline no longer has:*optimise.txt*"])
    assert stale.is_file()


def test_a_file_the_compiler_did_not_write_is_never_deleted(
        pytester: pytest.Pytester, sandbox: Path) -> None:
    """A stray file in expected/ fails the golden; the flag refuses to replace a tree holding
    a file index.json does not list (the writer's rule), and changes nothing."""
    stray = sandbox / "tests" / "golden" / CASE / "expected" / "prod" / "notes.txt"
    stray.write_text("kept by hand\n")
    before = snapshot(sandbox)
    result = run(pytester)
    result.assert_outcomes(passed=ALL - 1, failed=1)
    result.stdout.fnmatch_lines(["*1 file(s) differ*prod/notes.txt*",
                                 "*prod/notes.txt: no longer produced*"])
    result = run(pytester, "--update-golden")
    result.assert_outcomes(passed=ALL - 1, failed=1)
    result.stdout.fnmatch_lines(["*M701: refusing to replace*prod/notes.txt*"])
    assert snapshot(sandbox) == before
