"""The README's table of diagnostic codes is the CODES table (pytest --update-golden syncs it)."""

from __future__ import annotations

import re
from pathlib import Path

from compiler.diagnostics import CODES

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"(<!-- codes:start -->\n)(.*?)(<!-- codes:end -->)", re.S)


def table() -> str:
    rows = "".join(f"| {code} | {text} |\n" for code, text in sorted(CODES.items()))
    return "| code | meaning |\n|---|---|\n" + rows


def test_readme_lists_every_code(update_golden: bool) -> None:
    text = README.read_text()
    m = BLOCK.search(text)
    assert m, "README lacks the codes markers"
    if update_golden:
        README.write_text(text[: m.start(2)] + table() + text[m.end(2):])
        return
    assert m.group(2) == table(), "run pytest --update-golden to sync the README's codes table"


def test_codes_are_well_formed() -> None:
    assert all(re.fullmatch(r"M\d{3}", c) for c in CODES)
