"""A corrupt, truncated, foreign or stale cache entry is detected and ignored, never trusted."""

from __future__ import annotations

import marshal
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.generate import generate
from compiler.cache import CACHE_DIR, MANIFEST, Cache
from compiler.cache import store as cache_mod
from compiler.cli import main
from compiler.model.raw import RawDoc
from compiler.pipeline import compile_workspace
from tests.unit.cache.cachekit import sealed
from tests.unit.write.treekit import tree_of


@pytest.fixture(scope="module")
def primed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """A workspace compiled once with the cache, and the tree a cold compile gives."""
    root = tmp_path_factory.mktemp("primed") / "ws"
    generate(150, root, seed=5)
    assert CliRunner().invoke(main, ["compile", str(root)]).exit_code == 0
    return root, tree_of(root / "rendered")


@pytest.fixture
def ws(primed: tuple[Path, dict[str, bytes]], tmp_path: Path) -> Path:
    copy = tmp_path / "ws"
    shutil.copytree(primed[0], copy)
    return copy


def _entries(ws: Path, kind: str) -> list[Path]:
    return sorted(p for p in (ws / CACHE_DIR / kind).rglob("*") if p.is_file())


def _recompile(ws: Path) -> Cache:
    cache = Cache(ws)
    result = compile_workspace(ws, memos=cache.memos)
    assert result.ok, result.diagnostics
    return cache


def _flip(blob: bytes) -> bytes:
    i = len(blob) - 10
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
    "bit flip": _flip,
    "wrong magic": lambda b: b"NOTMENTA" + b[8:],
    "bad marshal, valid digest": lambda b: sealed(b"\xff\x00garbage"),
    "json instead of marshal": lambda b: sealed(b'{"not": "marshal"}'),
    "wrong shape, valid digest": lambda b: sealed(marshal.dumps(("other-key", [1, 2, 3]))),
    "right key, wrong value shape": lambda b: sealed(
        marshal.dumps((marshal.loads(b[40:])[0], ([("x",)], [], [])))),
}


@pytest.mark.parametrize("kind", ["unit", "parse", "policy", "memo"])
@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupt_entries_are_ignored(ws: Path, primed: tuple[Path, dict[str, bytes]],
                                     tmp_path: Path, kind: str, how: str) -> None:
    absent = tmp_path / "absent"
    shutil.copytree(primed[0], absent)
    for entry in _entries(absent, kind):
        entry.unlink()
    for entry in _entries(ws, kind):
        entry.write_bytes(CORRUPTIONS[how](entry.read_bytes()))
    cache = _recompile(ws)
    assert cache.stats.rejected == len(_entries(primed[0], kind))
    # as if they were not there (an entry made during the compile may be used again in it)
    assert cache.stats.hits.get(kind) == _recompile(absent).stats.hits.get(kind)
    shutil.rmtree(ws / "rendered")
    result = CliRunner().invoke(main, ["compile", str(ws)])
    assert result.exit_code == 0, result.output
    assert tree_of(ws / "rendered") == primed[1]


@pytest.mark.parametrize("field, bad", [(6, "597"), (4, ("f.yaml", 1)), (3, ["a.yaml"]),
                                        (9, 1), (1, None)])
def test_one_unit_of_the_wrong_shape_in_a_sound_pack_is_rebuilt(
        ws: Path, primed: tuple[Path, dict[str, bytes]], field: int, bad: object) -> None:
    shard = _entries(ws, "unit")[0]
    key, units = marshal.loads(shard.read_bytes()[40:])
    victim = sorted(units)[0]
    items, diags, classes = units[victim]
    row = list(items[0])
    row[field] = bad  # a size as text, a short origin, sources as a list, ...
    units[victim] = ([tuple(row), *items[1:]], diags, classes)
    shard.write_bytes(sealed(marshal.dumps((key, units))))
    cache = _recompile(ws)
    assert cache.stats.rejected == 1 and cache.stats.misses["unit"] == 1
    assert cache.stats.hits["unit"] > 1
    shutil.rmtree(ws / "rendered")
    assert CliRunner().invoke(main, ["compile", str(ws)]).exit_code == 0
    assert tree_of(ws / "rendered") == primed[1]


def test_positions_of_the_wrong_shape_are_ignored_where_read(
        ws: Path, primed: tuple[Path, dict[str, bytes]]) -> None:
    for shard in _entries(ws, "parse"):
        key, entries = marshal.loads(shard.read_bytes()[40:])
        for k, (docs, diags) in entries.items():
            entries[k] = ([(i, data, {p: ("x", None) for p in pos}, {(): (1,)})
                           for i, data, pos, _ in docs], diags)
        shard.write_bytes(sealed(marshal.dumps((key, entries))))
    cache = _recompile(ws)
    assert cache.stats.hits["parse"] and not cache.stats.rejected
    assert RawDoc("f.yaml", 0, {}, {("a",): ("x", None)}, {(): (1,)}).pos(("a",)) == (1, 1)
    shutil.rmtree(ws / "rendered")
    assert CliRunner().invoke(main, ["compile", str(ws)]).exit_code == 0
    assert tree_of(ws / "rendered") == primed[1]


def test_entry_moved_under_another_key_is_refused(ws: Path) -> None:
    a, b = _entries(ws, "unit")[:2]  # two shards of the unit pack
    units_in_a = len(marshal.loads(a.read_bytes()[40:])[1])
    a.write_bytes(b.read_bytes())  # internally consistent, but it names b's key
    cache = _recompile(ws)
    assert cache.stats.rejected == 1
    assert cache.stats.misses["unit"] == units_in_a > 0


def test_other_compiler_version_does_not_see_the_entries(ws: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "fingerprint", lambda: "some-other-compiler")
    cache = _recompile(ws)
    assert "unit" not in cache.stats.hits and "parse" not in cache.stats.hits
    assert cache.stats.rejected == 0  # a stale entry is never looked up, so never rejected


def test_corrupt_manifest_only_costs_a_full_tree_read(
        ws: Path, primed: tuple[Path, dict[str, bytes]]) -> None:
    for junk in (b"{not json", b"[]", b'{"files": {"index.json": {"stat": "x"}}}', b""):
        (ws / MANIFEST).write_bytes(junk)
        result = CliRunner().invoke(main, ["compile", str(ws), "--check"])
        assert result.exit_code == 0, result.output
    assert tree_of(ws / "rendered") == primed[1]


def test_lying_stat_snapshot_is_not_trusted_for_changed_sizes(ws: Path) -> None:
    victim = sorted((ws / "rendered").rglob("service-*.yaml"))[0]
    victim.write_bytes(victim.read_bytes() + b"# extra\n")
    result = CliRunner().invoke(main, ["compile", str(ws), "--check"])
    assert result.exit_code == 1 and victim.name in result.output


def test_unwritable_cache_does_not_fail_the_compile(ws: Path) -> None:
    shutil.rmtree(ws / ".mentat")
    (ws / ".mentat").write_text("a file where the cache directory should be")
    result = CliRunner().invoke(main, ["compile", str(ws)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("forge", ["undecodable", "another object's dict"])
def test_forged_object_dicts_fall_back_to_the_yaml_bytes(ws: Path, forge: str) -> None:
    for entry in _entries(ws, "unitobj"):
        key, blobs = marshal.loads(entry.read_bytes()[40:])
        forged = ([b"\xffjunk" for _ in blobs] if forge == "undecodable"
                  else blobs[1:] + blobs[:1])  # well-formed dicts, each another's
        entry.write_bytes(sealed(marshal.dumps((key, forged), 4)))
    args = ["compile", str(ws), "--stdout", "--target", "prod/us-east-1"]
    warm = CliRunner().invoke(main, args)
    cold = CliRunner().invoke(main, [*args, "--no-cache"])
    assert warm.exit_code == cold.exit_code == 0, warm.output
    assert warm.stdout_bytes == cold.stdout_bytes


@pytest.mark.parametrize("link", [".mentat", ".mentat/cache", ".mentat/cache/parse"])
def test_a_symlinked_cache_is_never_followed(ws: Path, tmp_path: Path, link: str) -> None:
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    for i in range(200):
        (victim / "sub" / f"f{i}").write_text("precious")
    target = ws / link
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(victim, target_is_directory=True)
    cache = _recompile(ws)
    assert cache.disabled and not cache.stats.hits
    assert sorted(p.name for p in victim.iterdir()) == ["sub"]
    assert len(list((victim / "sub").iterdir())) == 200


def test_forged_cost_lines_with_a_zero_denominator_are_refused(
        ws: Path, primed: tuple[Path, dict[str, bytes]]) -> None:
    forged = 0
    for entry in _entries(ws, "memo"):  # the shards of one pack: every flow's cost lines
        key, pack = marshal.loads(entry.read_bytes()[40:])
        for k, (value, diags) in list(pack.items()):
            if not (type(value) is tuple and len(value) == 2 and type(value[1]) is list):
                continue  # a policy rule file's checked programs (rules._rule_file)
            json_lines, sums = value
            first = list(sums[0])
            first[6] = 0  # the monthly cost's denominator
            pack[k] = ((json_lines, [tuple(first), *sums[1:]]), diags)
            forged += 1
        entry.write_bytes(sealed(marshal.dumps((key, pack), 4)))
    cache = _recompile(ws)
    # each forged part refused and made again (the rule files' entries still serve)
    assert forged and cache.stats.rejected == forged == cache.stats.misses.get("memo")
    shutil.rmtree(ws / "rendered")
    assert CliRunner().invoke(main, ["compile", str(ws)]).exit_code == 0
    assert tree_of(ws / "rendered") == primed[1]


def test_pruning_removes_what_older_compilers_left(ws: Path) -> None:
    old_kind = ws / CACHE_DIR / "artifact" / "ab" / "cdef"  # a kind no longer used
    loose = ws / CACHE_DIR / "parse" / "ab" / "cdef"  # a kind now kept as a pack
    other = ws / CACHE_DIR / "unit" / "ab" / "cdef"  # an entry no compile uses
    for p in (old_kind, loose, other):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"stale")
    stale_pack = ws / CACHE_DIR / "policy" / "0000.pack"  # another fingerprint's pack
    stale_pack.write_bytes(b"stale")
    cache = _recompile(ws)
    cache.store._prune()  # save() prunes only every so often
    assert not old_kind.exists() and not loose.exists() and not other.exists()
    assert not stale_pack.exists()
    assert _entries(ws, "unit") and _entries(ws, "policy") and _entries(ws, "parse")


def test_objects_load_back_from_their_yaml_without_their_dicts(
        ws: Path, primed: tuple[Path, dict[str, bytes]]) -> None:
    for entry in [*_entries(ws, "unitobj"), *_entries(ws, "policy")]:
        entry.unlink()  # every cached object is evaluated again, its dict lost
    cache = _recompile(ws)
    assert cache.stats.hits.get("unit") and cache.stats.misses.get("policy")
    shutil.rmtree(ws / "rendered")
    assert CliRunner().invoke(main, ["compile", str(ws)]).exit_code == 0
    assert tree_of(ws / "rendered") == primed[1]


@pytest.mark.parametrize("lost", [("unittext",), ("unittext", "unitobj")])
def test_lost_bytes_of_cached_objects_are_a_miss(
        ws: Path, primed: tuple[Path, dict[str, bytes]], lost: tuple[str, ...],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without its YAML entry a cached object is dumped again from its dict; without both,
    its unit is rendered again where the bytes are needed, in the same compile, and stored
    again, so the next compile finds them. The tree is a cold compile's either way."""
    from compiler.cache import units

    rebuilt: list[int] = []
    real = units._Blobs.rendered_again
    monkeypatch.setattr(units._Blobs, "rendered_again",
                        lambda self, i: rebuilt.append(i) or real(self, i))
    for kind in lost:
        for entry in _entries(ws, kind):
            entry.write_bytes(_flip(entry.read_bytes()))
    shutil.rmtree(ws / "rendered")  # every file must be written, so every YAML is needed
    result = CliRunner().invoke(main, ["compile", str(ws)])
    assert result.exit_code == 0, result.output
    assert tree_of(ws / "rendered") == primed[1]
    assert bool(rebuilt) == ("unitobj" in lost)
    rebuilt.clear()
    shutil.rmtree(ws / "rendered")
    result = CliRunner().invoke(main, ["compile", str(ws)])
    assert result.exit_code == 0, result.output
    assert tree_of(ws / "rendered") == primed[1]
    assert rebuilt == []  # healed: stored again by the compile that rendered them


def test_records_are_pruned_after_a_week_unused_and_kept_while_used(ws: Path) -> None:
    """Build and snapshot records of other output directories go once unused for
    RECORDS_KEPT_S; the records a compile uses stay however old their files are (a replay
    reads them without writing them again)."""
    own_before = {*_entries(ws, "build"), *_entries(ws, "snapshot")}  # the original's
    shutil.rmtree(ws / "rendered")
    assert CliRunner().invoke(main, ["compile", str(ws)]).exit_code == 0  # records of its own
    old = ws / CACHE_DIR / "snapshot" / "ab" / "old-record"  # an upgrade re-keyed it
    recent = ws / CACHE_DIR / "build" / "ab" / "recent-record"  # another --out, say
    for p in (old, recent):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"record")
    long_ago = time.time() - cache_mod.RECORDS_KEPT_S - 60
    own = [p for p in (*_entries(ws, "build"), *_entries(ws, "snapshot"))
           if p not in own_before and p not in (old, recent)]
    for p in (old, *own_before, *own):
        os.utime(p, (long_ago, long_ago))
    cache = Cache(ws)
    assert cache.replay(None) is not None  # reads this output's build and snapshot records
    Cache(ws).store._prune()  # a compile of another output, say: it reads none of them
    assert not old.exists() and recent.exists()
    assert not any(p.exists() for p in own_before)  # the copied workspace's, unused here
    assert all(p.exists() for p in own) and own  # a replay counts as a use
    for p in own:
        os.utime(p, (long_ago, long_ago))
    cache.store._prune()
    assert all(p.exists() for p in own)  # used by the compile that prunes


def test_forged_snapshots_are_refused_not_trusted(ws: Path,
                                                  primed: tuple[Path, dict[str, bytes]]) -> None:
    """A sealed snapshot of the wrong shape (stats cut short) is refused:
    the tree is then compared by content, and the compile writes what a cold one does."""
    shutil.rmtree(ws / "rendered")
    shutil.rmtree(ws / CACHE_DIR / "snapshot")  # the copied workspace's: other paths
    assert CliRunner().invoke(main, ["compile", str(ws)]).exit_code == 0
    forged = 0
    for entry in _entries(ws, "snapshot"):
        key, (generation, (paths, digests, stats)) = marshal.loads(entry.read_bytes()[40:])
        entry.write_bytes(sealed(marshal.dumps(
            (key, (generation, (paths, digests, stats[:-1]))), 4)))  # a stat cut short
        forged += 1
    cache = Cache(ws)
    assert cache.outputs.known(ws / "rendered") == {} and cache.stats.rejected == forged
    edited = ws / "rendered" / "index.json"
    edited.write_bytes(edited.read_bytes() + b" ")  # an output edited by hand is restored
    result = CliRunner().invoke(main, ["compile", str(ws)])
    assert result.exit_code == 0, result.output
    assert forged and tree_of(ws / "rendered") == primed[1]
