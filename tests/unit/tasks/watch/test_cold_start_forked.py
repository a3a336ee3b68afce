"""A first compile that cannot replay (a fresh clone, a new compiler) runs in a forked child:
the watch reports the child's compile as its own, then compiles again from the cache the
child filled, so its own heap never holds a cold compile. A child that dies without a result
costs nothing but time: the compile runs in the watch's process."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from compiler.tasks import watch as watch_mod
from compiler.tasks.compile import CompileOptions
from tests.unit.tasks.watch.watchkit import NEWS, Watch


def test_a_cold_first_compile_is_reported_from_the_child(example_ws: Path) -> None:
    flow = example_ws / NEWS
    with Watch(example_ws, "-v") as watch:
        watch.said("the first compile runs in a child process")
        first = watch.next()
        assert first["ok"] and first["files"] > 0
        assert len(first["added"]) == first["files"]  # the child's compile, not the warm-up
        flow.write_text(flow.read_text().replace("owner: news-", "owner: forked-", 1))
        line = watch.next()
        assert line["ok"] and line["changes"] == [NEWS] and line["changed"]
        assert watch.stop() == 0
    assert "Traceback" not in "".join(watch.stderr)


def test_a_warm_start_compiles_in_process(example_ws: Path) -> None:
    with Watch(example_ws, "-v") as watch:
        assert watch.next()["ok"]
        assert watch.stop() == 0
    with Watch(example_ws, "-v") as watch:
        first = watch.next()  # replayable: compiled here, nothing written
        assert first["ok"] and first["added"] == first["changed"] == []
        assert watch.stop() == 0
    assert "child process" not in "".join(watch.stderr)


def test_a_child_that_dies_leaves_the_compile_to_the_watch(
        example_ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_mod, "_child", lambda *_: os._exit(3))
    said: list[str] = []
    reported: list[watch_mod.Compiled] = []
    watch_mod._first(example_ws, CompileOptions(), watch_mod.Relevance(example_ws),
                     contextlib.nullcontext, reported.append, said.append)
    assert said == ["watch: nothing to replay: the first compile runs in a child process"]
    [compiled] = reported
    assert compiled.first and not compiled.outcome.failed
    assert len(compiled.outcome.diff.added) == compiled.outcome.files > 0
