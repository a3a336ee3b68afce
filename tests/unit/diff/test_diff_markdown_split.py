"""A diff larger than one pull-request comment: several comments, each at most 65,536 bytes,
each with its stable marker, together holding every object and every diff line; the same
input gives the same comments."""

from __future__ import annotations

import re
from pathlib import Path

from compiler.diff.report import COMMENT_LIMIT, marker, render_markdown
from compiler.diff.task import run_diff
from tests.unit.diff.diffkit import FLOW, GitWorkspace

MARKER = re.compile(r"^<!-- mentatctl-diff:test:part-(\d+) -->$", re.M)


def _split(stdout: str) -> list[str]:
    starts = [m.start() for m in MARKER.finditer(stdout)]
    return [stdout[a:b] for a, b in zip(starts, [*starts[1:], len(stdout)], strict=True)]


def test_large_diff_splits_into_complete_comments(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    for i in range(16):
        ws.write(f"flows/flow-{i:02d}.yaml", FLOW.replace("name: digest", f"name: flow-{i:02d}"))
    ws.commit("sixteen more flows")
    out = ws.run("--base", "main~1", "-o", "markdown")
    assert out.exit_code == 0, out.output
    comments = _split(out.stdout)
    assert len(comments) > 2
    for i, comment in enumerate(comments, 1):
        assert len(comment.encode()) <= COMMENT_LIMIT
        assert comment.startswith(marker("test", i) + "\n")
        assert f"_part {i} of {len(comments)}_" in comment
    assert "| **total** |" in comments[0]  # the summary comes first
    whole = "".join(comments)
    doc = ws.json("main~1")
    assert doc["summary"]["added"] > 300
    for change in doc["objects"]:
        assert f"{change['target']} {change['kind']} {change['name']}</code>" in whole
        for line in change["diff"].splitlines():
            assert line in whole
    again = ws.run("--base", "main~1", "-o", "markdown")
    assert again.stdout == out.stdout


def test_one_object_larger_than_a_comment_is_cut_into_pieces(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.write("flows/more.yaml", FLOW.replace("name: digest", "name: more"))
    ws.commit("one more flow")
    report = run_diff(ws.root, "main~1", "HEAD")
    comments = render_markdown(report, limit=2048)
    assert all(len(c.encode()) <= 2048 for c in comments)
    whole = "".join(comments)
    big = max(report.changes, key=lambda c: len(c.diff))
    assert len(big.diff) > 3000  # larger than a 2048-byte comment
    assert ", piece 1 of " in whole
    assert all(line in whole for line in big.diff.splitlines())
