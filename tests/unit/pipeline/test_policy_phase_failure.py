"""The policy phases run in threads of their own while render goes on: what one of them
raises reaches the caller of `compile_workspace`, never lost with the thread, and a phase
that returns hands its outcome to the result."""

from __future__ import annotations

from typing import Any

import pytest

import compiler.pipeline as pipeline
from compiler.pipeline import compile_workspace
from compiler.policy import PolicyResult, load_rules


def test_an_exception_in_a_policy_phase_reaches_the_caller(make_ws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*args: Any) -> PolicyResult:
        raise RuntimeError("the sources phase broke")

    monkeypatch.setattr(pipeline, "check_sources", broken)
    with pytest.raises(RuntimeError, match="the sources phase broke"):
        compile_workspace(make_ws())


def test_a_policy_phase_outcome_reaches_the_result(make_ws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rule = next(r.id for r in load_rules(None).rules if r.phase == "source")

    def tallied(*args: Any) -> PolicyResult:
        return PolicyResult(passed={rule: 1000})

    monkeypatch.setattr(pipeline, "check_sources", tallied)
    result = compile_workspace(make_ws())
    assert result.ok
    assert result.policy.passed.get(rule) == 1000  # the rendered phase counts no source rule
