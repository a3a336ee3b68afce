"""A broken edit is reported (file:line:col and a code, in the compile's JSON line) and leaves
the output tree as it was; the watch goes on, and fixing the file recompiles."""

from __future__ import annotations

from pathlib import Path

from tests.unit.tasks.watch.watchkit import NEWS, Watch, tree


def test_a_broken_edit_leaves_the_tree_and_the_fix_recompiles(example_ws: Path) -> None:
    flow = example_ws / NEWS
    good = flow.read_text()
    with Watch(example_ws) as watch:
        assert watch.next()["ok"]
        rendered = example_ws / "rendered"
        before = tree(rendered)

        flow.write_text(good.replace("  mode: job", "  mood: job"))
        broken = watch.next()
        assert not broken["ok"] and broken["changes"] == [NEWS]
        found = {(d["code"], d["file"], d["line"], d["col"]) for d in broken["diagnostics"]}
        assert ("M202", NEWS, 9, 3) in found  # `mood`, where it is
        assert tree(rendered) == before

        flow.write_text(good.replace("owner: news-team", "owner: news-desk"))
        fixed = watch.next()
        assert fixed["ok"] and fixed["changes"] == [NEWS] and fixed["changed"]
        assert tree(rendered) != before
        assert watch.stop() == 0
