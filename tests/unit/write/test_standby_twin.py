"""A tree written from nothing gets its standby as hard links to it, so the first recompile
writes only what changed instead of the whole tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.write import Standby, read_tree, write_tree
from compiler.write import tree as write_mod
from tests.unit.write.treekit import indexed, known_of

V1 = indexed({"a/x.yaml": b"x: 1\n", "a/y.yaml": b"y: 1\n", "b/z.yaml": b"z: 1\n"}, "1")
V2 = indexed({**V1, "a/x.yaml": b"x: 2\n"}, "2")


def test_the_first_recompile_writes_only_what_changed(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out, path = tmp_path / "rendered", tmp_path / ".mentat" / "standby" / "t"
    cold = Standby(path, {})
    assert write_tree(out, V1, None, cold) == []
    assert cold.twin and read_tree(path) == V1
    # both trees are the same inodes, and the snapshot is taken after the links were made
    assert cold.written == known_of(out, V1) == known_of(path, V1)
    assert all(os.stat(out / p).st_ino == os.stat(path / p).st_ino for p in V1)

    writes: list[str] = []
    real = write_mod._write
    monkeypatch.setattr(write_mod, "_write", lambda p, c: writes.append(p) or real(p, c))
    first = Standby(path, cold.written or {})
    assert write_tree(out, V2, None, first) == []
    assert sorted(os.path.relpath(p, path) for p in writes) == ["a/x.yaml", "index.json"]
    assert read_tree(out) == V2 and read_tree(path) == V1
    assert first.written == known_of(out, V2) and not first.twin


def test_without_hard_links_there_is_no_standby(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(write_mod.os, "link", no_links)
    out, path = tmp_path / "rendered", tmp_path / ".mentat" / "standby" / "t"
    sb = Standby(path, {})
    assert write_tree(out, V1, None, sb) == []
    assert read_tree(out) == V1 and not path.exists() and not sb.twin
    assert sb.written == known_of(out, V1)
