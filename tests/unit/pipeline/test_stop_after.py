"""`stop_after` ends the pipeline after that stage, with its value in the result (cost,
graph and catalog stop after link and read the linked workspace)."""

from __future__ import annotations

import pytest

from compiler.pipeline import STAGES, compile_workspace


def test_stopping_after_link_keeps_the_linked_workspace(make_ws) -> None:  # type: ignore[no-untyped-def]
    result = compile_workspace(make_ws(), stop_after="link")
    assert result.ok and result.workspace is not None and result.workspace.flows
    assert result.rendered is None and not result.files


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_announced_once_up_to_the_one_asked_for(make_ws, stage: str) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    compile_workspace(make_ws(), stop_after=stage, on_stage=seen.append)
    assert seen == list(STAGES[: STAGES.index(stage) + 1])


def test_stopping_after_render_keeps_the_objects_and_writes_no_files(make_ws) -> None:  # type: ignore[no-untyped-def]
    result = compile_workspace(make_ws(), stop_after="render")
    assert result.rendered is not None and result.rendered.objects
    assert not result.files
