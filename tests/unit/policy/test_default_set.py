"""`mentatctl policy test` over the default set: every rule passes its pass fixture and fails
its fail fixture (the policies' own test suite, as `conftest verify` / `kyverno test`)."""

from __future__ import annotations

import pytest

from compiler import resources
from compiler.policy import FixtureResult, verify_dir

RULES, RESULTS, DIAGNOSTICS = verify_dir(resources.policies_dir(), prefix="policies/")


def test_the_default_rule_files_are_valid() -> None:
    assert DIAGNOSTICS == []
    assert len(RULES.rules) >= 12


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: f"{r.rule}.{r.expect}")
def test_fixture(result: FixtureResult) -> None:
    assert result.ok, result.detail
    assert result.fixture == f"policies/tests/{result.rule}.{result.expect}.yaml"


def test_every_rule_is_covered_both_ways() -> None:
    covered = {(r.rule, r.expect) for r in RESULTS if r.ok}
    assert covered == {(r.id, e) for r in RULES.rules for e in ("pass", "fail")}
