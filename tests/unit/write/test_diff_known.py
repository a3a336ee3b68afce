"""diff_tree with a stat snapshot agrees with a full read of the tree."""

from __future__ import annotations

import os
from pathlib import Path

from compiler.write import diff_tree, write_tree
from tests.unit.write.treekit import indexed, known_of


def _files() -> dict[str, bytes]:
    return indexed({"a/x.yaml": b"x: 1\n", "a/y.yaml": b"y: 2\n", "b/z.yaml": b"z: 3\n"})


def test_snapshot_diff_equals_full_diff(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = _files()
    assert not write_tree(out, files)
    known = known_of(out, files)
    assert not diff_tree(out, files, known)

    new = {**files, "a/x.yaml": b"x: 9\n", "c/new.yaml": b"n: 1\n"}
    del new["b/z.yaml"]
    new = indexed(new, "2")
    assert diff_tree(out, new, known) == diff_tree(out, new)
    d = diff_tree(out, new, known)
    assert d.changed == ["a/x.yaml", "index.json"] and d.added == ["c/new.yaml"]
    assert d.removed == ["b/z.yaml"]


def test_same_size_edit_with_new_mtime_is_seen(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = _files()
    assert not write_tree(out, files)
    known = known_of(out, files)
    target = out / "a" / "y.yaml"
    target.write_bytes(b"y: 7\n")  # same size, same inode: only the times change
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert diff_tree(out, files, known).changed == ["a/y.yaml"]


def test_replaced_index_defeats_the_shortcut(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = _files()
    assert not write_tree(out, files)
    known = known_of(out, files)
    (out / "index.json").write_bytes(files["index.json"])  # same bytes, but a new stat
    (out / "a" / "x.yaml").write_bytes(b"x: 5\n")
    assert diff_tree(out, files, known).changed == ["a/x.yaml"]


def test_write_with_diff_links_unchanged_files_and_writes_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = _files()
    assert not write_tree(out, files)
    before = {p: (out / p).stat().st_ino for p in files}
    new = indexed({**files, "a/x.yaml": b"x: 2\n", "c/new.yaml": b"n: 1\n"}, "2")
    diff = diff_tree(out, new)
    assert not write_tree(out, new, diff)
    assert {p: (out / p).read_bytes() for p in new} == new
    after = {p: (out / p).stat().st_ino for p in new}
    assert after["a/y.yaml"] == before["a/y.yaml"]  # linked, not rewritten
    assert after["a/x.yaml"] != before["a/x.yaml"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(new)
