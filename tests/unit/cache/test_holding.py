"""Within `holding` (compile --watch), a pack shard or a decoded output snapshot is read
from disk again only when its file changed; what is held is shared by the compiles and none
of them changes it."""

from __future__ import annotations

import marshal
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.generate import generate
from compiler.cache import held as held_mod
from compiler.cache import store as store_mod
from compiler.cache import units as units_mod
from compiler.tasks.compile import CompileOptions, compile_task
from compiler.write import outputs as outputs_mod
from tests.unit.write.treekit import tree_of

_HEAD = len(store_mod._MAGIC) + 32


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    generate(150, root, seed=7)
    return root


def _edit(ws: Path, n: int) -> None:
    flow = sorted((ws / "flows").glob("group-*/flow-*.yaml"))[0]
    flow.write_text(re.sub(r"owner: [a-z0-9-]+", f"owner: held-{n}", flow.read_text()))


def _compile(ws: Path) -> None:
    outcome = compile_task(ws, CompileOptions())
    assert outcome.output is not None, outcome.diagnostics


def _shard_reads(monkeypatch: pytest.MonkeyPatch, kind: str = "") -> list[str]:
    """The pack shards read from disk (with `kind`: that kind's entries)."""
    reads: list[str] = []
    real = store_mod.Store._read

    def spy(self: store_mod.Store, path: str | Path, entry_key: str) -> object:
        if f"/{kind}/" in str(path) if kind else str(path).endswith(".pack"):
            reads.append(str(path))
        return real(self, path, entry_key)

    monkeypatch.setattr(store_mod.Store, "_read", spy)
    return reads


def test_an_unchanged_shard_is_not_read_again(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _shard_reads(monkeypatch)
    with held_mod.holding():
        _compile(ws)
        _edit(ws, 1)
        reads.clear()
        _compile(ws)
        assert reads == []  # each shard was read or written by the compile before
    _edit(ws, 2)
    _compile(ws)
    assert reads, "outside holding every compile reads its shards"


def test_the_held_entries_are_what_the_files_say(ws: Path) -> None:
    """After compiles sharing held entries, each held shard equals its file: no compile
    changed an entry it read (a mutated entry would be a wrong cache hit later)."""
    with held_mod.holding():
        for n in range(3):
            _edit(ws, n)
            _compile(ws)
        held = held_mod._held
        assert held is not None
        shards = {Path(p): f for p, f in held.items() if p.endswith(".pack")}
        assert len(shards) >= len(store_mod.PACKED)
        for path, shard in shards.items():
            if shard.sig is None:  # a shard with no entries is no file
                assert shard.value == {} and not path.exists()
                continue
            on_disk = marshal.loads(path.read_bytes()[_HEAD:])[1]
            assert shard.value == on_disk, path


def test_a_shard_another_compile_rewrote_is_read_again(
        ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _shard_reads(monkeypatch)
    with held_mod.holding():
        _compile(ws)
        held = held_mod._held
        assert held is not None
        held_mod._held = None  # a one-shot compile in another process
        _edit(ws, 1)
        _compile(ws)
        held_mod._held = held
        reads.clear()
        _edit(ws, 2)
        _compile(ws)
        assert reads  # the shards it rewrote
        assert all(p.endswith(".pack") for p in reads)
        tree = tree_of(ws / "rendered")
    # the same tree a compile that reads everything from disk makes
    (ws / "rendered").rename(ws.parent / "held-tree")
    _compile(ws)
    assert tree_of(ws / "rendered") == tree
    assert held_mod._held is None



def test_a_held_shard_is_shape_checked_once(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[int] = []
    real = units_mod._sound_unit_keys

    def spy(entries: dict[str, Any]) -> set[str]:
        checked.append(len(entries))
        return real(entries)

    monkeypatch.setattr(units_mod, "_sound_unit_keys", spy)
    with held_mod.holding():
        _compile(ws)
        _edit(ws, 1)
        _compile(ws)  # reads what the first compile wrote: checked
        first = len(checked)
        _edit(ws, 2)
        checked.clear()
        _compile(ws)
        # only the unit shards the last compile rewrote (its edited flow's units)
        assert 0 < len(checked) < first
    _edit(ws, 3)
    checked.clear()
    _compile(ws)
    assert len(checked) == first  # outside, every shard each compile


def test_the_output_snapshots_are_held_as_written(ws: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    reads = _shard_reads(monkeypatch, "snapshot")
    with held_mod.holding():
        _compile(ws)
        for n in range(3):
            _edit(ws, n)
            reads.clear()
            _compile(ws)
            assert reads == []  # the snapshots the compile before wrote
        held = held_mod._held
        assert held is not None
        records = {p: f.value for p, f in held.items() if "/snapshot/" in p}
        assert len(records) == 2  # the output tree's and its standby's
        for path, slot in records.items():
            on_disk = marshal.loads(Path(path).read_bytes()[_HEAD:])[1]
            assert outputs_mod._slot_in(slot.key, on_disk) == slot, path
    _edit(ws, 9)
    reads.clear()
    _compile(ws)
    assert len(reads) == 2
