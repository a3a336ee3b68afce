"""`validate --stop-after STAGE` runs the stages up to that one: what they report, and no
later stage's problems; an unknown stage is a usage error naming the stages."""

from __future__ import annotations

from click.testing import CliRunner

from compiler.cli import main, validate
from compiler.pipeline import STAGES
from tests.conftest import UNLINKED_FLOW


def test_a_link_problem_is_not_reported_before_link(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws(flow=UNLINKED_FLOW)
    early = CliRunner().invoke(main, ["validate", str(root), "--stop-after", "validate"])
    assert early.exit_code == 0 and "ok: no problems up to validate" in early.stderr
    linked = CliRunner().invoke(main, ["validate", str(root), "--stop-after", "link"])
    assert linked.exit_code == 1 and "error[M3" in linked.stderr


def test_an_unknown_stage_is_a_usage_error(make_ws) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["validate", str(make_ws()), "--stop-after", "emit"])
    assert result.exit_code == 2 and "unknown stage 'emit'" in result.stderr


def test_the_help_names_every_stage() -> None:
    option = next(p for p in validate.params if p.name == "stop_after")
    assert all(stage in (option.help or "") for stage in STAGES)
