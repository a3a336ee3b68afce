"""What the watch asks the OS to watch: the workspace root itself and, recursively, each
directory in it but the output tree and hidden ones (.git/, .mentat/), unless a hidden one
holds an input; a directory made since is watched from the next compile on."""

from __future__ import annotations

from pathlib import Path

from compiler.tasks.watch import _Changes


def test_the_output_and_hidden_directories_are_not_watched(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    for d in ("flows", "rendered", ".git", ".mentat", ".policies", "docs"):
        (root / d).mkdir()
    changes = _Changes(root)
    try:
        changes.rescope(str(root / "rendered"), ["mentat.yaml", "flows/a.yaml",
                                                 ".policies/rules.yaml"])
        assert changes.watched == [str(root / d) for d in (".policies", "docs", "flows")]
        (root / "agents").mkdir()
        changes.rescope(str(root / "rendered"), ["flows/a.yaml"])
        assert changes.watched == [str(root / d) for d in ("agents", "docs", "flows")]
    finally:
        changes.close()
