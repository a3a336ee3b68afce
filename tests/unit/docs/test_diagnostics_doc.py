"""docs/diagnostics.md lists every code of the code table (pytest --update-golden syncs it)."""

from __future__ import annotations

import re
from pathlib import Path

from compiler.diagnostics import CODES

DOC = Path(__file__).resolve().parents[3] / "docs" / "diagnostics.md"
BLOCK = re.compile(r"(<!-- codes:start -->\n)(.*?)(<!-- codes:end -->)", re.S)
STAGES = {"1": "load", "2": "validate", "3": "link", "4": "policy", "5": "render, wasm, cost",
          "6": "check", "7": "write", "8": "sign, verify", "9": "controller"}


def table() -> str:
    rows = "".join(f"| {code} | {STAGES[code[1]]} | {text} |\n" for code, text in sorted(CODES.items()))
    return "| code | stage | meaning |\n|---|---|---|\n" + rows


def test_the_doc_lists_every_code(update_golden: bool) -> None:
    text = DOC.read_text()
    m = BLOCK.search(text)
    assert m, "docs/diagnostics.md lacks the codes markers"
    if update_golden:
        DOC.write_text(text[: m.start(2)] + table() + text[m.end(2):])
        return
    assert m.group(2) == table(), "run pytest --update-golden to sync docs/diagnostics.md"
