"""A watch that compiles for hours keeps its memory: 30 recompiles after a warm-up grow its
resident set by a few megabytes at most (it grew by the output's bytes per compile when the
digest memo kept them)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.unit.tasks.watch.watchkit import NEWS, Watch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1)) / 1024


def test_thirty_recompiles_keep_the_resident_set(example_ws: Path) -> None:
    flow = example_ws / NEWS
    good = flow.read_text()
    with Watch(example_ws) as watch:
        assert watch.next()["ok"]
        sizes = []
        for i in range(35):
            flow.write_text(good.replace("owner: news-team", f"owner: news-team-{i}"))
            assert watch.next()["ok"]
            sizes.append(_rss_mb(watch.proc.pid))
        assert watch.stop() == 0
    warm = sizes[4]  # after a few compiles every cache and pool has its working size
    assert max(sizes[5:]) - warm < 8, sizes
