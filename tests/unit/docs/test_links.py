"""The README and docs/ link only inside the repository, to files that exist (the README used
to point at a design document outside it); web addresses appear only in examples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```.*?```", re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_links_stay_inside_and_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text())
    for target in LINK.findall(text):
        assert not re.match(r"[a-z]+:", target), f"{target}: links leave the repository"
        path = target.split("#")[0]
        if not path:
            continue
        resolved = (page.parent / path).resolve()
        assert resolved.is_relative_to(REPO), f"{target}: outside the repository"
        assert resolved.exists(), f"{target}: no such file"


def test_the_docs_exist() -> None:
    names = {p.name for p in PAGES}
    assert {"formats.md", "stages.md", "diagnostics.md", "cli.md", "tutorial.md"} <= names
