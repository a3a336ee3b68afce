"""Double buffering: the standby tree is brought up to date and exchanged with the output."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compiler.write import Known, Standby, read_tree, write_tree
from compiler.write import tree as write_mod
from tests.unit.write.treekit import indexed, known_of

V1 = indexed({"a/x.yaml": b"x: 1\n", "a/y.yaml": b"y: 1\n", "b/z.yaml": b"z: 1\n"}, "1")
V2 = indexed({**V1, "a/x.yaml": b"x: 2\n"}, "2")
V3 = indexed({"a/x.yaml": b"x: 3\n", "a/y.yaml": b"y: 1\n", "c/n.yaml": b"n\n"}, "3")


class Buffers:
    """What the cache does between compiles: remember both snapshots."""

    def __init__(self, tmp: Path) -> None:
        self.out = tmp / "rendered"
        self.path = tmp / ".mentat" / "standby" / "t"
        self.known: Known = {}
        self.current: Known = {}

    def write(self, files: dict[str, bytes]) -> Standby:
        sb = Standby(self.path, self.known)
        assert write_tree(self.out, files, None, sb) == []
        assert sb.written is not None
        # a standby made as hard links to a tree written from nothing has its snapshot
        self.known, self.current = sb.written if sb.twin else self.current, sb.written
        return sb


def test_each_compile_writes_only_what_differs_from_the_standby(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = Buffers(tmp_path)
    b.write(V1)  # no output yet: built beside it, the standby linked to it
    b.write(V2)  # the standby brought to V2 and exchanged: the replaced tree is kept
    assert read_tree(b.out) == V2 and read_tree(b.path) == V1
    assert b.current == known_of(b.out, V2)  # the writer's snapshot is the tree's real stat

    writes: list[str] = []
    real = write_mod._write
    monkeypatch.setattr(write_mod, "_write", lambda p, c: writes.append(p) or real(p, c))
    b.write(V3)
    # from V1: x and index changed, c/n added; y kept; z and the emptied b/ removed
    assert sorted(os.path.relpath(p, b.path) for p in writes) == ["a/x.yaml", "c/n.yaml",
                                                                   "index.json"]
    assert read_tree(b.out) == V3 and read_tree(b.path) == V2
    assert not (b.out / "b").exists()
    assert b.current == known_of(b.out, V3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mentat", "rendered"]


def test_a_standby_file_edited_behind_its_back_is_rewritten(tmp_path: Path) -> None:
    b = Buffers(tmp_path)
    b.write(V1)
    b.write(V2)
    (b.path / "a" / "y.yaml").write_bytes(b"y: 9\n")  # same size, new stat
    (b.path / "stray.yaml").write_bytes(b"s\n")
    b.write(V1)
    assert read_tree(b.out) == V1


def test_a_symlink_in_the_standby_is_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    b = Buffers(tmp_path)
    b.write(V1)
    b.write(V2)
    os.unlink(b.path / "a" / "x.yaml")
    os.symlink(outside / "x.yaml", b.path / "a" / "x.yaml")
    os.rename(b.path / "b", tmp_path / "b-moved")
    os.symlink(outside, b.path / "b")  # a directory the next tree writes into
    b.write(V1)
    assert read_tree(b.out) == V1 and not any(outside.iterdir())
    assert not (b.out / "b").is_symlink()


def test_a_standby_that_is_a_symlink_is_replaced(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    b = Buffers(tmp_path)
    b.write(V1)
    shutil.rmtree(b.path)
    os.symlink(outside, b.path)
    b.write(V2)
    assert read_tree(b.out) == V2 and not any(outside.iterdir())
    assert b.path.is_dir() and not b.path.is_symlink()


def test_signatures_follow_the_index_through_the_standby(tmp_path: Path) -> None:
    b = Buffers(tmp_path)
    b.write(V1)
    b.write(V2)
    (b.out / "index.sigstore.json").write_text("sig")
    (b.out / "a" / "x.yaml").write_bytes(b"tampered\n")
    b.write(V2)  # the same index: its signature stays valid and is kept
    assert (b.out / "index.sigstore.json").read_text() == "sig"
    assert read_tree(b.out) == V2
    b.write(V3)
    assert not (b.out / "index.sigstore.json").exists()


def test_a_standby_held_by_another_compile_is_left_alone(tmp_path: Path) -> None:
    import fcntl

    b = Buffers(tmp_path)
    b.write(V1)
    b.write(V2)
    with open(b.path.parent / "t.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sb = Standby(b.path, b.known)
        assert write_tree(b.out, V3, None, sb) == []
        assert sb.written is None  # built beside the output, as without a standby
    assert read_tree(b.out) == V3 and read_tree(b.path) == V1


def test_a_failure_while_refreshing_leaves_the_output(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    b = Buffers(tmp_path)
    b.write(V1)
    b.write(V2)
    real = write_mod._write

    def full_disk(path: str, content: bytes) -> os.stat_result:
        if path.endswith("n.yaml"):
            raise OSError(28, "No space left on device")
        return real(path, content)

    monkeypatch.setattr(write_mod, "_write", full_disk)
    diags = write_tree(b.out, V3, None, Standby(b.path, b.known))
    assert [d.code for d in diags] == ["M701"]
    assert read_tree(b.out) == V2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mentat", "rendered"]


def test_keeping_the_replaced_tree_may_fail_without_failing_the_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = Buffers(tmp_path)
    b.write(V1)
    shutil.rmtree(b.path)  # no standby: the new tree is built beside the output
    real = os.rename

    def no_standby(src: object, dst: object) -> None:
        if str(dst) == str(b.path):
            raise OSError(28, "No space left on device")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(write_mod.os, "rename", no_standby)
    sb = Standby(b.path, {})
    assert write_tree(b.out, V2, None, sb) == []  # the new tree is in place
    assert read_tree(b.out) == V2 and sb.written == known_of(b.out, V2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mentat", "rendered"]
    assert not b.path.exists()  # only the copy for next time is lost
