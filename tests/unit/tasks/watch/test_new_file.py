"""A source file that appears is compiled in (discovery finds it); deleting it takes its
objects out again."""

from __future__ import annotations

from pathlib import Path

from tests.unit.tasks.watch.watchkit import NEWS, Watch


def test_a_new_flow_file_is_compiled_in_and_out(example_ws: Path) -> None:
    copy = "flows/flows/news-digest-2.yaml"
    text = (example_ws / NEWS).read_text().replace("name: news-digest", "name: news-digest-2")
    with Watch(example_ws) as watch:
        assert watch.next()["ok"]
        (example_ws / copy).write_text(text)
        added = watch.next()
        assert added["ok"] and added["changes"] == [copy]
        assert added["added"] and all("news-digest-2" in p for p in added["added"])
        (example_ws / copy).unlink()
        removed = watch.next()
        assert removed["ok"] and removed["changes"] == [copy]
        assert sorted(removed["removed"]) == sorted(added["added"])
        assert watch.stop() == 0
