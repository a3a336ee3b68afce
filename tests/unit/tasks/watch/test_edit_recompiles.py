"""An edit to a flow recompiles it in the running watch: the next JSON line reports that
compile (what set it off, the files it changed, its duration), the tree holds the edit, and
the result is byte for byte what a one-shot compile of the same sources makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.tasks.watch.watchkit import NEWS, REPO, Watch, tree


def _mentatctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=300, check=False)


def test_an_edit_recompiles_and_matches_a_one_shot_compile(example_ws: Path,
                                                           tmp_path: Path) -> None:
    flow = example_ws / NEWS
    with Watch(example_ws) as watch:
        first = watch.next()
        assert first["ok"] and first["changes"] == [] and first["files"] > 0
        assert len(first["added"]) == first["files"] and first["seconds"] > 0
        rendered = example_ws / "rendered"
        before = tree(rendered)

        for owner in ("news-desk", "newsroom"):
            flow.write_text(flow.read_text().replace("owner: news-", f"owner: {owner}-", 1)
                            if owner == "news-desk" else
                            flow.read_text().replace("news-desk-team", "newsroom-team"))
            line = watch.next()
            assert line["ok"] and line["changes"] == [NEWS] and not line["replayed"]
            assert line["changed"] and not line["added"] and not line["removed"]
            after = tree(rendered)
            assert {p for p in after if after[p] != before.get(p)} == set(line["changed"])
            assert all(b"owner: " + owner.encode() in after[p] for p in line["changed"]
                       if p.endswith(".yaml") and p.startswith(("staging/", "prod/")))
            before = after
        assert watch.stop() == 0

    assert _mentatctl("compile", str(example_ws), "--check").returncode == 0
    fresh = tmp_path / "fresh"
    done = _mentatctl("compile", str(example_ws), "--no-cache", "--out", str(fresh))
    assert done.returncode == 0, done.stderr
    assert tree(fresh) == tree(rendered)
