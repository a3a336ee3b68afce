"""Ctrl-C (SIGINT) and SIGTERM end the watch with exit 0, waiting or compiling; one that
lands mid-compile leaves a whole tree (the last compile's or this one's, never a mix)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.unit.tasks.watch.watchkit import NEWS, Watch, whole


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_waiting_exits_zero(example_ws: Path, sig: int) -> None:
    with Watch(example_ws) as watch:
        assert watch.next()["ok"]
        assert watch.stop(sig) == 0
    assert whole(example_ws / "rendered")


def test_sigterm_mid_compile_exits_zero_and_leaves_a_whole_tree(example_ws: Path) -> None:
    flow = example_ws / NEWS
    with Watch(example_ws, "-v") as watch:
        assert watch.next()["ok"]
        watch.said("] done")  # -v: the first compile's stages, all read
        flow.write_text(flow.read_text().replace("owner: news-team", "owner: news-desk"))
        watch.said("] load")  # the edit's compile has started
        assert watch.stop() == 0
    assert whole(example_ws / "rendered")
