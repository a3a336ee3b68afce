"""`compile --stdout` dumps its leaf while the policy children still evaluate: layout makes
the stream before it waits for their outcomes, and without the cache makes nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler import pipeline
from compiler.pipeline import compile_workspace


def test_the_leaf_is_dumped_before_the_policy_outcomes_are_awaited(
        example_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    collect, leaf_stream = pipeline._Policy.collect, pipeline.leaf_stream

    def collecting(self: Any) -> Any:
        calls.append("collect")
        return collect(self)

    def dumping(*args: Any) -> Any:
        calls.append("leaf")
        return leaf_stream(*args)

    monkeypatch.setattr(pipeline._Policy, "collect", collecting)
    monkeypatch.setattr(pipeline, "leaf_stream", dumping)
    result = compile_workspace(example_ws, leaf="prod/us-east-1")
    assert result.ok and calls[:2] == ["leaf", "collect"]
    assert result.stream is not None and result.stream.text is not None
    assert b"namespace: " in result.stream.text
    assert "prod/us-east-1" in result.stream.leaves
    assert not result.files  # no tree: nothing else was serialised


def test_a_target_that_names_no_leaf_gets_no_stream_but_the_leaves(example_ws: Path) -> None:
    result = compile_workspace(example_ws, leaf="prod/mars-1")
    assert result.ok and result.stream is not None and result.stream.text is None
    assert "prod/us-east-1" in result.stream.leaves
