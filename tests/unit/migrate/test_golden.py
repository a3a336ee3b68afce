"""migrate rewrites each golden `before.yaml` into its `after.yaml`, byte for byte
(`pytest --update-golden` rewrites the `after.yaml` files: review the diff)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.load import parse_yaml
from compiler.migrate import migrate_file

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "before.yaml").is_file())


@pytest.mark.parametrize("case", CASES)
def test_before_becomes_after(case: str, update_golden: bool) -> None:
    before = (GOLDEN / case / "before.yaml").read_bytes()
    change, diags = migrate_file("before.yaml", before)
    assert diags == [] and change is not None
    if update_golden:
        (GOLDEN / case / "after.yaml").write_bytes(change.after)
        return
    assert change.after == (GOLDEN / case / "after.yaml").read_bytes()


@pytest.mark.parametrize("case", CASES)
def test_after_is_v1_and_means_what_before_meant(case: str) -> None:
    before = (GOLDEN / case / "before.yaml").read_bytes()
    after = (GOLDEN / case / "after.yaml").read_bytes()
    old, warnings = parse_yaml("f.yaml", before)
    new, none = parse_yaml("f.yaml", after)
    assert {w.code for w in warnings} == {"M111"} and none == []
    assert [d.data for d in new] == [d.data for d in old]
    assert migrate_file("after.yaml", after) == (None, [])  # nothing left to do


def test_cases_cover_comments_styles_and_markers() -> None:
    texts = {c: (GOLDEN / c / "before.yaml").read_text() for c in CASES}
    assert any("#" in t for t in texts.values())  # comments
    assert any(t.startswith("%YAML") and "\n...\n" in t for t in texts.values())
    assert any("mentatlab.io/v1\n" in t for t in texts.values())  # a v1 doc among them
    assert any("\n        -   id" in t for t in texts.values())  # four-space indentation
