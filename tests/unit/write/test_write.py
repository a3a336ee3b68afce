"""The writer replaces the output tree atomically and never destroys what it did not make."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from compiler.write import diff_tree, read_tree, write_tree
from compiler.write import tree as write_mod
from tests.unit.write.treekit import TREE, indexed


def test_writes_exactly_the_tree_and_replaces_the_old_one(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert write_tree(out, TREE) == []
    assert read_tree(out) == TREE
    new = {"index.json": b'{"v": 2}\n', "c.yaml": b"c: 3\n"}
    assert write_tree(out, new) == []
    assert read_tree(out) == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]  # no temp dirs left


def test_signatures_survive_only_an_identical_index(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    (out / "index.sigstore.json").write_text("sig")
    write_tree(out, dict(TREE))
    assert (out / "index.sigstore.json").read_text() == "sig"
    write_tree(out, {**TREE, "index.json": b'{"changed": true}\n'})
    assert not (out / "index.sigstore.json").exists()


def test_refuses_to_replace_a_directory_it_did_not_write(tmp_path: Path) -> None:
    home = tmp_path / "precious"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    diags = write_tree(home, TREE)
    assert [d.code for d in diags] == ["M701"]
    assert (home / "thesis.tex").read_text() == "years of work"


def test_a_failure_mid_write_leaves_the_previous_tree(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)

    real = write_mod._write

    def flaky(path: str, content: bytes) -> Any:
        if path.endswith("z.yaml"):
            raise OSError(28, "No space left on device")
        return real(path, content)

    monkeypatch.setattr(write_mod, "_write", flaky)
    diags = write_tree(out, {"index.json": b"new", "z.yaml": b"z", "w.yaml": b"w"})
    monkeypatch.undo()
    assert [d.code for d in diags] == ["M701"] and "No space" in diags[0].message
    assert read_tree(out) == TREE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]


def test_falls_back_to_two_renames_without_renameat2(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    monkeypatch.setattr(write_mod, "_exchange", lambda a, b: False)
    assert write_tree(out, indexed({}, "2")) == []
    assert read_tree(out) == indexed({}, "2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]


def test_the_replaced_tree_of_an_interrupted_two_rename_swap_is_cleaned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    monkeypatch.setattr(write_mod, "_exchange", lambda a, b: False)
    real = os.rename

    def stop_after_two(src: Any, dst: Any) -> None:  # as if killed after the second rename
        if ".old-" in str(src):
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(write_mod.os, "rename", stop_after_two)
    assert write_tree(out, indexed({}, "2")) == []  # the new tree is in place: success
    assert read_tree(out) == indexed({}, "2")
    monkeypatch.undo()
    leftover = out.parent / ".rendered.old-dead"  # what a killed compile leaves
    leftover.mkdir()
    assert write_tree(out, indexed({}, "3")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rendered"]


def test_stale_temp_trees_of_dead_processes_are_cleaned(tmp_path: Path) -> None:
    stale = tmp_path / ".rendered.tmp-999999999-abcd"
    stale.mkdir()
    live = tmp_path / f".rendered.tmp-{os.getpid()}-beef"
    live.mkdir()
    write_tree(tmp_path / "rendered", TREE)
    assert not stale.exists() and live.exists()


def test_diff_tree_names_added_removed_changed(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    write_tree(out, TREE)
    d = diff_tree(out, indexed({"a/x.yaml": b"x: 9\n", "new.yaml": b""}, "2"))
    assert (d.added, d.removed, d.changed) == (["new.yaml"], ["a/b/y.yaml"],
                                               ["a/x.yaml", "index.json"])
    assert not diff_tree(out, TREE)


def test_new_files_get_the_mode_the_umask_allows(tmp_path: Path) -> None:
    old = os.umask(0o002)  # a group-writable checkout
    try:
        write_tree(tmp_path / "rendered", TREE)
    finally:
        os.umask(old)
    assert (tmp_path / "rendered" / "a" / "x.yaml").stat().st_mode & 0o777 == 0o664
