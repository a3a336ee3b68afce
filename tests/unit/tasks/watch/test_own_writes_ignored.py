"""The compile's own writes (the output tree, the writer's temporary trees, .mentat/) and
other files no compile reads never start a compile: no loop, and a batch of them is only
noted (-v). A real edit among them compiles once, naming only itself."""

from __future__ import annotations

from pathlib import Path

from tests.unit.tasks.watch.watchkit import NEWS, Watch


def test_output_writes_and_stray_files_start_no_compile(example_ws: Path) -> None:
    flow = example_ws / NEWS
    with Watch(example_ws, "-v") as watch:
        assert watch.next()["ok"]
        watch.said("changes outside the inputs, ignored")  # the first compile's own writes
        index = example_ws / "rendered" / "index.json"
        index.write_bytes(index.read_bytes())  # a file of the tree rewritten as it was
        for stray in (".mentat/x", "flows/flows/.news-digest.yaml.swp",
                      "flows/flows/news-digest.yaml~", "README.md"):
            (example_ws / stray).write_text("x\n")
        watch.said("changes outside the inputs, ignored")
        flow.write_text(flow.read_text().replace("owner: news-team", "owner: news-desk"))
        line = watch.next()
        assert line["ok"] and line["changes"] == [NEWS]
        assert watch.stop() == 0
    compiles = [e for e in watch.stderr if e.rstrip().endswith("] done")]
    assert len(compiles) == 2  # the first and the edit's: nothing else ran a compile
    assert not any("no input changed" in e for e in watch.stderr)
