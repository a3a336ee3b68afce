"""In text, each compile of the watch prints what `compile` prints (diagnostics as
path:line:col: error[CODE], the summary line), after the change that set it off, and says
that it is still watching."""

from __future__ import annotations

from pathlib import Path

from tests.unit.tasks.watch.watchkit import NEWS, Watch


def test_text_output_per_compile(example_ws: Path) -> None:
    flow = example_ws / NEWS
    good = flow.read_text()
    with Watch(example_ws, "-o", "text") as watch:
        watch.said("compiled ")  # compile's own summary line
        watch.said("for changes (Ctrl-C to stop)")
        flow.write_text(good.replace("  mode: job", "  mood: job"))
        watch.said(f"changed: {NEWS}")
        watch.said(f"{NEWS}:9:3: error[M202]: unknown field 'mood'")
        watch.said("watching for changes (the output tree is left as it was)")
        flow.write_text(good.replace("owner: news-team", "owner: news-desk"))
        watch.said(f"changed: {NEWS}")
        watch.said("changed)")  # compiled N files into rendered (M changed)
        assert watch.stop() == 0
