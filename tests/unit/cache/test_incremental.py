"""Incremental compiles give the bytes of a cold compile, and reuse only what is unchanged."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.generate import generate
from compiler.cache import CACHE_DIR, MANIFEST, STANDBY_DIR, Cache
from compiler.cli import main
from compiler.pipeline import compile_workspace
from tests.unit.write.treekit import tree_of


def _compile(ws: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["compile", str(ws), *args])
    return result.exit_code, result.output


def _cold(ws: Path, tmp: Path) -> dict[str, bytes]:
    """The tree a compile without any cache writes for the workspace as it is now."""
    out = tmp / "cold-out"
    shutil.rmtree(out, ignore_errors=True)
    code, output = _compile(ws, "--no-cache", "--out", str(out))
    assert code == 0, output
    return tree_of(out)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    generate(300, root, seed=3)
    return root


def _flow(ws: Path) -> Path:
    return sorted((ws / "flows").glob("group-*/flow-*.yaml"))[0]


def _stats(ws: Path) -> Cache:
    cache = Cache(ws)
    result = compile_workspace(ws, memos=cache.memos)
    assert result.ok and result.workspace is not None, result.diagnostics
    cache.save(result.workspace.source_digests)
    return cache


def test_warm_compiles_are_byte_identical_to_cold_ones(ws: Path, tmp_path: Path) -> None:
    code, out = _compile(ws)
    assert code == 0, out
    assert tree_of(ws / "rendered") == _cold(ws, tmp_path)
    assert (ws / MANIFEST).is_file() and (ws / CACHE_DIR / "unit").is_dir()

    code, out = _compile(ws)  # no change
    assert code == 0 and "up to date" in out
    assert tree_of(ws / "rendered") == _cold(ws, tmp_path)

    flow = _flow(ws)
    flow.write_text(re.sub(r"owner: team-\d+", "owner: changed", flow.read_text()))
    code, out = _compile(ws)
    assert code == 0, out
    assert tree_of(ws / "rendered") == _cold(ws, tmp_path)

    agents = ws / "flows" / "agents" / "agents-0000.yaml"
    agents.write_text(agents.read_text().replace("value: info", "value: debug"))
    code, out = _compile(ws)
    assert code == 0, out
    assert tree_of(ws / "rendered") == _cold(ws, tmp_path)

    mentat = ws / "mentat.yaml"
    mentat.write_text(mentat.read_text().replace("ratio: 0.1", "ratio: 0.2")
                      .replace("bench-media", "other-bucket"))
    code, out = _compile(ws)
    assert code == 0, out
    assert tree_of(ws / "rendered") == _cold(ws, tmp_path)


def test_each_kind_of_change_invalidates_exactly_what_depends_on_it(ws: Path) -> None:
    first = _stats(ws)
    units = first.stats.misses["unit"]
    assert "unit" not in first.stats.hits and units > 0

    warm = _stats(ws)
    assert warm.stats.hits["unit"] == units and "unit" not in warm.stats.misses
    assert "parse" not in warm.stats.misses

    flow = _flow(ws)
    flow.write_text(flow.read_text().replace("# Synthetic flow", "# Edited flow"))
    comment_only = _stats(ws)  # new bytes, same documents: re-parsed, and units re-rendered
    assert comment_only.stats.misses["parse"] == 1

    name = re.search(r"name: (flow-\d+)", flow.read_text()).group(1)  # type: ignore[union-attr]
    manifest = json.loads((ws / MANIFEST).read_text())
    of_flow = [u for u in manifest["units"] if flow.relative_to(ws).as_posix() in u["sources"]]
    flow.write_text(re.sub(r"owner: team-\d+", "owner: edited", flow.read_text()))
    one_flow = _stats(ws)
    assert one_flow.stats.misses["unit"] == len(of_flow) > 0
    assert all(any(name in o for o in u["outputs"]) for u in of_flow)

    agents = ws / "flows" / "agents" / "agents-0000.yaml"
    rel = agents.relative_to(ws).as_posix()
    manifest = json.loads((ws / MANIFEST).read_text())
    using = [u for u in manifest["units"] if rel in u["sources"]]
    agents.write_text(agents.read_text().replace("value: info", "value: debug"))
    agent = _stats(ws)
    # Every unit of a flow using one of the file's agents, and no other (files are the
    # granularity: a changed file invalidates every unit that read a document of it).
    assert agent.stats.misses["unit"] == len(using) > 0
    assert agent.stats.hits.get("unit", 0) == units - len(using)

    mentat = ws / "mentat.yaml"
    mentat.write_text(mentat.read_text().replace("ratio: 0.1", "ratio: 0.3"))
    workspace = _stats(ws)
    # every unit but the CRDs', which only the compiler's own schemas make
    assert workspace.stats.misses["unit"] == units - 1 and workspace.stats.hits["unit"] == 1


def test_manifest_maps_sources_to_outputs(ws: Path) -> None:
    code, out = _compile(ws)
    assert code == 0, out
    manifest = json.loads((ws / MANIFEST).read_text())
    outputs = {o for u in manifest["units"] for o in u["outputs"]}
    index = json.loads((ws / "rendered" / "index.json").read_text())
    rendered = {f["path"] for f in index["files"]}
    assert outputs <= rendered
    # every unit reads mentat.yaml but the CRDs', made from the compiler's own schemas
    crds = [u for u in manifest["units"] if all(o.startswith("crds/") for o in u["outputs"])]
    assert len(crds) == 1 and crds[0]["sources"] == []
    assert all("mentat.yaml" in u["sources"] for u in manifest["units"] if u not in crds)
    assert manifest["output"] == str(ws / "rendered")
    snapshot = Cache(ws).outputs.known(ws / "rendered")
    assert set(snapshot) == rendered | {"index.json"}


def test_no_cache_neither_reads_nor_writes_the_cache(ws: Path, tmp_path: Path) -> None:
    code, out = _compile(ws, "--no-cache")
    assert code == 0, out
    assert not (ws / ".mentat").exists()
    code, out = _compile(ws)
    assert code == 0
    unit_dir = ws / CACHE_DIR / "unit"
    for entry in unit_dir.rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"garbage")
    code, out = _compile(ws, "--no-cache")  # would not notice the garbage either way
    assert code == 0 and "up to date" in out
    assert all(p.read_bytes() == b"garbage" for p in unit_dir.rglob("*") if p.is_file())


def test_hand_edited_output_is_detected_despite_the_stat_snapshot(ws: Path) -> None:
    code, _ = _compile(ws)
    assert code == 0
    victim = sorted((ws / "rendered").rglob("deployment-*.yaml"))[0]
    victim.write_bytes(victim.read_bytes().replace(b"replicas:", b"replicas: 9\n#"))
    code, out = _compile(ws, "--check")
    assert code == 1 and victim.name in out
    code, out = _compile(ws)
    assert code == 0 and "(1 changed)" in out
    code, out = _compile(ws, "--check")
    assert code == 0, out


def test_warm_and_cold_runs_report_the_same_diagnostics(ws: Path) -> None:
    code, _ = _compile(ws)
    assert code == 0
    flow = _flow(ws)
    flow.write_text(flow.read_text().replace(".out, to:", ".missing, to:", 1))
    bad = ws / "flows" / "agents" / "agents-0001.yaml"
    bad.write_text(bad.read_text() + "\n---\nkind: [unclosed\n")
    warm = CliRunner().invoke(main, ["compile", str(ws), "--format", "json"])
    cold = CliRunner().invoke(main, ["compile", str(ws), "--format", "json", "--no-cache"])
    assert warm.exit_code == cold.exit_code == 1
    assert json.loads(warm.output)["diagnostics"] == json.loads(cold.output)["diagnostics"]
    assert {d["code"] for d in json.loads(warm.output)["diagnostics"]} >= {"M102", "M302"}


def test_stdout_stream_from_cached_objects_equals_cold(ws: Path) -> None:
    assert _compile(ws)[0] == 0
    args = ["compile", str(ws), "--stdout", "--target", "prod/us-east-1"]
    warm = CliRunner().invoke(main, args)
    cold = CliRunner().invoke(main, [*args, "--no-cache"])
    assert warm.exit_code == cold.exit_code == 0
    assert warm.stdout_bytes == cold.stdout_bytes and warm.stdout_bytes.count(b"\n---") > 10


def test_entries_replaced_by_edits_are_pruned(ws: Path) -> None:
    """Stale entries are deleted once enough new ones were written: the cache stays within
    a bound of what the last compile used, however many edits came before."""
    assert _compile(ws)[0] == 0
    live = len([p for p in (ws / CACHE_DIR / "unittext").rglob("*") if p.is_file()])
    flow = _flow(ws)
    original = flow.read_text()
    counts = []
    for i in range(40):
        flow.write_text(re.sub(r"owner: team-\d+", f"owner: edit-{i}", original))
        assert _compile(ws)[0] == 0
        counts.append(len([p for p in (ws / CACHE_DIR / "unittext").rglob("*") if p.is_file()]))
        manifest = json.loads((ws / MANIFEST).read_text())
        assert 0 <= manifest["unpruned"] <= 2 * live + 64
    assert max(counts) < 2 * live + 64 + 10  # bounded, not one more set per edit
    assert min(counts[5:]) < max(counts)  # and pruning happened


def test_recompiles_with_the_trees_walked_ahead_equal_cold_ones(
        ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper walks rendered/ and its standby while the compile runs (large trees
    only; here every tree): each recompile still writes exactly a cold compile's tree."""
    from compiler.write import outputs as outputs_mod
    from compiler.write import tree as write_mod
    from compiler.write.walk import Prescan

    made: list[Prescan] = []
    monkeypatch.setattr(outputs_mod, "PRESCAN_MIN_FILES", 0)
    monkeypatch.setattr(outputs_mod, "Prescan", lambda paths: made.append(Prescan(paths))
                        or made[-1])
    walked_here: list[Path] = []
    real_scan = write_mod.scan
    monkeypatch.setattr(write_mod, "scan", lambda p: walked_here.append(p) or real_scan(p))
    assert _compile(ws)[0] == 0
    flow = _flow(ws)
    original = flow.read_text()
    for i in range(3):
        flow.write_text(re.sub(r"owner: team-\d+", f"owner: walked-{i}", original))
        edited = sorted((ws / "rendered" / "crds").glob("*.yaml"))[i]
        edited.write_bytes(edited.read_bytes() + b"# edited behind our back\n")
        walked_here.clear()
        code, out = _compile(ws, "--format", "json")
        assert code == 0, out
        changed = json.loads(out)["changed"]
        assert edited.relative_to(ws / "rendered").as_posix() in changed
        if i:  # a standby exists and is held: the helper's walks served, none made here
            assert walked_here == []
        assert tree_of(ws / "rendered") == _cold(ws, tmp_path)
    assert len(made) == 3


def test_an_output_file_edited_while_the_helper_walked_is_still_found(
        ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper's walk predates the compile: when it finds nothing to write, the tree is
    compared again as it is now (an edit made meanwhile must not be kept)."""
    from compiler.write import outputs as outputs_mod

    monkeypatch.setattr(outputs_mod, "PRESCAN_MIN_FILES", 0)
    assert _compile(ws)[0] == 0
    # No standby to hold: a held one rewrites every file whose stat it cannot vouch for
    # (tests/unit/write/test_standby.py), so only then is the walk's word enough.
    shutil.rmtree(ws / ".mentat" / "standby")
    flow = _flow(ws)
    flow.write_text(flow.read_text() + "# a comment: compiled again, the same output\n")
    edited = sorted((ws / "rendered" / "crds").glob("*.yaml"))[0]
    real = outputs_mod.Outputs.scanned

    def edit_after_walk(self: outputs_mod.Outputs, out: Path) -> object:
        walk = real(self, out)
        edited.write_bytes(edited.read_bytes() + b"# edited during the compile\n")
        return walk

    monkeypatch.setattr(outputs_mod.Outputs, "scanned", edit_after_walk)
    code, out = _compile(ws, "--format", "json")
    assert code == 0, out
    assert edited.relative_to(ws / "rendered").as_posix() in json.loads(out)["changed"]
    monkeypatch.undo()
    assert tree_of(ws / "rendered") == _cold(ws, tmp_path)


def test_the_standby_is_refreshed_from_the_snapshot_of_the_tree_it_was(
        ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After an exchange the output's snapshot slot describes the standby: the next compile
    writes into it only what differs, and the trees stay those of cold compiles."""
    from compiler.write import tree as write_mod

    writes: list[str] = []
    real = write_mod._write
    monkeypatch.setattr(write_mod, "_write", lambda p, c: writes.append(p) or real(p, c))
    flow, text = _flow(ws), _flow(ws).read_text()
    assert _compile(ws)[0] == 0  # cold: no standby yet
    before = tree_of(ws / "rendered")
    for n in range(4):
        flow.write_text(re.sub(r"owner: team-\d+", f"owner: edit-{n}", text))
        writes.clear()
        code, output = _compile(ws)
        assert code == 0, output
        written = list(writes)
        (standby,) = [d for d in (ws / STANDBY_DIR).iterdir() if d.is_dir()]
        assert tree_of(standby) == before  # the replaced tree, kept as the standby
        before = tree_of(ws / "rendered")
        if n:  # written into the standby: only what differs from it, every time
            in_standby = [p for p in written if p.startswith(str(ws / STANDBY_DIR))]
            assert 0 < len(in_standby) == len(written) < len(before) // 2, len(written)
        assert before == _cold(ws, tmp_path)
