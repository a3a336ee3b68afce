"""Output trees walked by a helper process agree with walks made in place."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from compiler.write import diff_tree, write_tree
from compiler.write import walk as walk_mod
from compiler.write.walk import Prescan, scan
from tests.unit.write.treekit import TREE


def test_the_helper_walks_what_an_inline_walk_sees(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    os.symlink("/etc", out / "a" / "link")  # itself, not followed
    prescan = Prescan([out, tmp_path / "missing"])
    assert sorted(prescan.walk(out) or []) == sorted(scan(out))
    assert prescan.walk(tmp_path / "missing") == []
    assert prescan.walk(tmp_path / "never-asked") is None
    assert any(rel == "a/link" for rel, _, _ in scan(out))
    assert not any(rel.startswith("a/link/") for rel, _, _ in scan(out))


def test_a_diff_from_the_helper_equals_one_made_in_place(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    new = {**TREE, "a/x.yaml": b"x: 9\n", "c.yaml": b"c\n"}
    del new["a/b/y.yaml"]
    assert diff_tree(out, new, None, Prescan([out]).walk(out)) == diff_tree(out, new)


def test_no_helper_means_no_walk_not_a_wrong_one(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    assert Prescan([out]).walk(out) is None
    monkeypatch.undo()
    monkeypatch.setattr(walk_mod, "_HELPER", "import sys; sys.exit(3)")  # starts, then fails
    assert Prescan([out]).walk(out) is None


def test_an_unused_prescan_leaves_no_process_or_file(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    before, children = len(os.listdir("/proc/self/fd")), _children()
    prescan = Prescan([out])
    del prescan  # collected: the helper is waited for and its output closed
    assert len(os.listdir("/proc/self/fd")) == before
    # no child of its own left, running or unreaped (the session's control plane, started by
    # the cluster fixture, is a child of this process too and stays)
    assert _children() == children


def _children() -> set[int]:
    return {int(pid) for task in os.listdir("/proc/self/task")
            for pid in Path(f"/proc/self/task/{task}/children").read_text().split()}


def test_modules_in_the_working_directory_do_not_run_in_the_helper(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A repository compiled in place is untrusted: its files are not the standard library."""
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    marker = tmp_path / "ran"
    for name in ("tempfile", "pathlib", "marshal", "weakref"):
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}')\n")
    monkeypatch.chdir(tmp_path)
    assert sorted(Prescan([out]).walk(out) or []) == sorted(scan(out))
    assert not marker.exists()


def test_no_temporary_file_means_walking_inline(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def no_tmp() -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(walk_mod.tempfile, "TemporaryFile", no_tmp)
    assert Prescan([tmp_path]).walk(tmp_path) is None
