"""Every workspace under tests/diagnostics/ carries its expected diagnostics inline, on the
line that causes them (`# E: CODE message substring`, as in mypy's test data). The compile
must report exactly those: same file, same line, same code, message containing the text,
and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compiler.pipeline import compile_workspace

HERE = Path(__file__).parent
CASES = sorted(p.parent.name for p in HERE.glob("*/mentat.yaml"))
# case -> (the stage whose problem it exercises, the bug that stops it today): each runs as a
# strict xfail, so the fix makes it fail until its entry is removed here
KNOWN_BUGS: dict[str, tuple[str, str]] = {}  # case -> (stage, the bug): xfail until fixed
# YAML and WAT comments; one line may expect several (`# E: M500 ... # E: M520 ...`)
EXPECT = re.compile(r"(?:#|;;)\s*E:\s*(M\d{3})\s+(.*?)\s*(?=(?:#|;;)\s*E:|$)")


def expectations(root: Path) -> set[tuple[str, int, str, str]]:
    found = set()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".wat")):
        rel = path.relative_to(root).as_posix()
        # bytes that are not UTF-8 are one of the cases (M101): the comment is still ASCII
        text = path.read_bytes().decode("utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith(("#", ";;")):
                continue
            for m in EXPECT.finditer(line):
                found.add((rel, lineno, m.group(1), m.group(2)))
    return found


@pytest.mark.parametrize("case", [
    pytest.param(c, marks=pytest.mark.xfail(strict=True, raises=ValueError, reason=KNOWN_BUGS[c][1]))
    if c in KNOWN_BUGS else c for c in CASES])
def test_diagnostics_match_inline_expectations(case: str) -> None:
    root = HERE / case
    expected = expectations(root)
    assert expected, "a diagnostics case must expect something"
    result = compile_workspace(root)
    reported = [(d.file, d.line, d.code, d.message) for d in result.diagnostics]
    repeated = sorted({r for r in reported if reported.count(r) > 1})
    assert not repeated, f"reported more than once: {repeated}"
    actual = {(f, line, code): msg for f, line, code, msg in reported}
    missing = [e for e in expected if (e[0], e[1], e[2]) not in actual
               or e[3] not in actual[(e[0], e[1], e[2])]]
    unexpected = [f"{k[0]}:{k[1]}: {k[2]} {m}" for k, m in sorted(actual.items())
                  if not any((e[0], e[1], e[2]) == k for e in expected)]
    assert not missing, f"expected but not reported (or different message): {missing}\n" \
        f"reported: {sorted(actual.items())}"
    assert not unexpected, f"reported but not expected: {unexpected}"
    assert not result.files, "a failed compile produces no output"


def test_every_diagnostic_has_a_column() -> None:
    for case in sorted(set(CASES) - set(KNOWN_BUGS)):
        for d in compile_workspace(HERE / case).diagnostics:
            assert d.file and d.line >= 1 and d.col >= 1, d
