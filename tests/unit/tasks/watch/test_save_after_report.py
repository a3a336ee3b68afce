"""The watch reports a compile before it saves the cache: the save runs once the line is
out, and runs every time, so a later process finds the edit compiled and replays it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler.cache import Cache
from compiler.tasks import watch as watch_mod
from compiler.tasks.compile import CompileOptions, compile_task
from tests.unit.tasks.watch.watchkit import NEWS, Watch


def test_a_compile_given_later_saves_only_when_that_runs(example_ws: Path) -> None:
    later: list[Callable[[], None]] = []
    outcome = compile_task(example_ws, CompileOptions(), later=later)
    assert not outcome.failed and outcome.files > 0 and len(later) == 1
    assert Cache(example_ws).replay(None) is None  # nothing recorded on disk yet
    later[0]()
    replay = Cache(example_ws).replay(None)
    assert replay is not None and replay.files == outcome.files


def test_the_watch_saves_each_edit_after_reporting_it(example_ws: Path) -> None:
    flow = example_ws / NEWS
    with Watch(example_ws, "-v") as watch:
        assert watch.next()["ok"]
        flow.write_text(flow.read_text().replace("owner: news-", "owner: saved-", 1))
        line = watch.next()
        assert line["ok"] and line["changed"]
        watch.said("watch: cache saved")  # after the line: a stop before it loses only speed
        assert watch.stop() == 0
    # the last compile read exactly these sources, and its save ran: a one-shot replays it
    assert compile_task(example_ws, CompileOptions()).replayed


def test_a_stop_during_the_save_waits_for_it_and_an_error_is_not_lost() -> None:
    saved: list[str] = []
    with pytest.raises(KeyboardInterrupt), watch_mod._signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler has run by now: the signal is held, not raised
        saved.append("cache")
    assert saved == ["cache"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(OSError, match="disk full"), watch_mod._signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        raise OSError("disk full")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

