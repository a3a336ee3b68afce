"""At most MAX_SHOWN diagnostics are printed; the rest are counted (issue 15: 700k bad
documents printed 1.4 million lines)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from compiler.cli import main
from compiler.diagnostics import MAX_SHOWN, Diagnostic, Severity, render_github, render_text
from tests.conftest import WORKSPACE


def _many(n: int) -> list[Diagnostic]:
    return [Diagnostic("M201", f"problem {i}", f"f{i:05}.yaml", 1, 1,
                       Severity.WARNING if i % 2 else Severity.ERROR) for i in range(n)]


def test_text_and_github_print_the_first_and_count_the_rest() -> None:
    diags = _many(MAX_SHOWN + 250)
    text = render_text(diags).splitlines()
    assert len(text) == MAX_SHOWN + 1
    assert text[-1].startswith("... and 250 more diagnostic(s) not shown (125 error(s), "
                               "125 warning(s))")
    assert text[0].startswith("f00000.yaml")  # the first in order, not any
    github = render_github(diags).splitlines()
    assert len(github) == MAX_SHOWN + 1 and "250 more" in github[-1]


def test_under_the_cap_nothing_is_added() -> None:
    assert "more diagnostic" not in render_text(_many(3))


def test_json_lists_the_first_and_says_how_many_were_omitted(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "flows").mkdir(parents=True)
    (root / "mentat.yaml").write_text(WORKSPACE)
    bad = "apiVersion: mentatlab.io/v1\nkind: Agent\n"
    (root / "flows" / "bad.yaml").write_text("---\n".join([bad] * (MAX_SHOWN + 10)))
    r = CliRunner().invoke(main, ["validate", str(root), "--format", "json"])
    payload = json.loads(r.stdout)
    assert r.exit_code == 1 and len(payload["diagnostics"]) == MAX_SHOWN
    assert payload["omitted"] == 2 * (MAX_SHOWN + 10) - MAX_SHOWN  # two per document
    text = CliRunner().invoke(main, ["validate", str(root)]).stderr
    assert f"... and {payload['omitted']} more diagnostic(s) not shown" in text
