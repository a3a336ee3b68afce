"""Only a tree mentatctl provably wrote is replaced: anything else is refused, untouched,
with every entry it did not write named (issue 15, data loss)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.write import Standby, diff_tree, foreign, write_tree
from compiler.write.walk import scan
from tests.unit.write.treekit import TREE, indexed, known_of, tree_of

NEW = indexed({"a/x.yaml": b"x: 2\n"}, "new")


def _refused(out: Path, files: dict[str, bytes] = NEW, **kw: object) -> str:
    before = tree_of(out)
    diags = write_tree(out, files, **kw)  # type: ignore[arg-type]
    assert [d.code for d in diags] == ["M701"], diags
    assert tree_of(out) == before  # untouched
    return diags[0].message


def test_a_folder_with_its_own_index_json_is_not_replaced(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.json").write_text('{"title": "handbook"}')
    (docs / "guide.html").write_text("<h1>years of work</h1>")
    msg = _refused(docs)
    assert "no index.json written by mentatctl" in msg and "guide.html" in msg


def test_a_file_added_to_a_tree_mentatctl_wrote_is_not_deleted(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert write_tree(out, TREE) == []
    (out / "a" / "notes.md").write_text("mine")
    assert "a/notes.md" in _refused(out)
    # with the cache's snapshot of what it wrote, the same
    known = known_of(out, TREE)
    assert diff_tree(out, NEW, known).foreign == ["a/notes.md"]
    assert "a/notes.md" in _refused(out, diff=diff_tree(out, NEW, known))


def test_a_foreign_directory_even_empty_is_not_deleted(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert write_tree(out, TREE) == []
    (out / "keep" / "me").mkdir(parents=True)
    assert "keep, keep/me" in _refused(out)


def test_a_tree_whose_index_was_removed_or_forged_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert write_tree(out, TREE) == []
    (out / "index.json").unlink()
    _refused(out)
    (out / "index.json").write_text('{"kind": "Index", "files": []}')
    _refused(out)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_an_index_that_is_a_fifo_or_symlink_is_refused_without_hanging(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert write_tree(out, TREE) == []
    real = tmp_path / "elsewhere.json"
    real.write_bytes(TREE["index.json"])
    (out / "index.json").unlink()
    (out / "index.json").symlink_to(real)
    _refused(out)
    (out / "index.json").unlink()
    os.mkfifo(out / "index.json")
    _refused(out)


def test_only_the_signature_file_sign_writes_is_exempt(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert write_tree(out, TREE) == []
    (out / "index.sigstore.json").write_text("sig")
    assert foreign(out, scan(out), TREE) == []
    assert write_tree(out, dict(TREE)) == []
    (out / "rbac.sigstore.json").write_text("kind: ClusterRoleBinding")
    assert "rbac.sigstore.json" in _refused(out, dict(TREE))
    assert diff_tree(out, TREE).removed == ["rbac.sigstore.json"]  # --check sees it


def test_a_refused_tree_is_not_parked_in_the_standby(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.html").write_text("precious")
    sb = Standby(tmp_path / ".mentat" / "standby" / "x", {})
    _refused(docs, standby=sb)
    assert not sb.path.exists()


@pytest.fixture
def ws(example_ws: Path) -> Path:
    return example_ws


def _compile(ws: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, ["compile", str(ws), *args])
    return r.exit_code, r.stderr


@pytest.mark.parametrize("cache", [[], ["--no-cache"]])
def test_compile_refuses_docs_with_an_index_and_keeps_every_file(ws: Path, cache: list[str]) -> None:
    text = (ws / "mentat.yaml").read_text().replace("output: rendered/", "output: docs/")
    (ws / "mentat.yaml").write_text(text)
    (ws / "docs").mkdir()
    (ws / "docs" / "index.json").write_text("{}")
    (ws / "docs" / "guide.html").write_text("guide")
    for _ in range(2):  # a second compile deletes nothing either
        code, err = _compile(ws, *cache)
        assert code == 1 and "error[M701]" in err and "guide.html" in err
        assert tree_of(ws / "docs") == {"index.json": b"{}", "guide.html": b"guide"}
    assert not list(ws.joinpath(".mentat").rglob("guide.html"))


@pytest.mark.parametrize("output", [".mentat/", ".mentat/out/", ".mentat/standby/", "flows/",
                                    "flows/agents/", "flows/out/", ".git/", ".git/x/",
                                    "team-policies/", "./", "flows/.."])
def test_an_output_overlapping_what_the_compiler_owns_or_reads_is_refused(
        ws: Path, output: str) -> None:
    text = (ws / "mentat.yaml").read_text().replace(
        "output: rendered/", f"output: {output}").replace(
        "sources: [flows/]", "sources: [flows/]\n  policies: [team-policies/]")
    (ws / "mentat.yaml").write_text(text)
    (ws / "team-policies").mkdir()
    (ws / ".git").mkdir()
    before = tree_of(ws)
    code, err = _compile(ws, "--no-cache")
    assert code == 1 and ("error[M701]" in err or "error[M107]" in err), err
    assert tree_of(ws) == before


@pytest.mark.parametrize("out", ["flows", "flows/wasm/out", ".mentat/x", ".", ".."])
def test_an_out_flag_overlapping_the_workspace_is_refused(ws: Path, out: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ws)
    before = tree_of(ws)
    code, err = _compile(ws, "--no-cache", "--out", out)
    assert code == 1 and "error[M701]" in err, err
    assert tree_of(ws) == before


def test_an_output_holding_a_wasm_module_is_refused(ws: Path) -> None:
    text = (ws / "mentat.yaml").read_text().replace("sources: [flows/]",
                                                    "sources: [flows/agents/, flows/flows/]")
    (ws / "mentat.yaml").write_text(text)
    # flows/wasm/ holds modules; only its agents are moved into the sources
    for name in ("greeter", "uppercase", "wordcount"):
        agent = (ws / "flows/wasm" / f"{name}.yaml").read_text().replace(
            f"module: {name}.wat", f"module: ../wasm/{name}.wat")
        (ws / "flows/agents" / f"{name}.yaml").write_text(agent)
        (ws / "flows/wasm" / f"{name}.yaml").unlink()
    shutil.move(ws / "flows/wasm/wasm-greeting.yaml", ws / "flows/flows/wasm-greeting.yaml")
    shutil.move(ws / "flows/wasm/wasm-wordcount.yaml", ws / "flows/flows/wasm-wordcount.yaml")
    code, err = _compile(ws, "--no-cache", "--out", str(ws / "flows" / "wasm"))
    assert code == 1 and "greeter.wat" in err, err
    assert (ws / "flows/wasm/greeter.wat").exists()


def test_only_temporary_trees_the_writer_names_are_cleaned(tmp_path: Path) -> None:
    mine = [tmp_path / ".rendered.tmp-notes", tmp_path / ".rendered.old-backup-2024",
            tmp_path / ".rendered.tmp-12-xyz"]
    for d in mine:
        d.mkdir()
    stale = tmp_path / ".rendered.tmp-999999999-abcd"
    stale.mkdir()
    assert write_tree(tmp_path / "rendered", TREE) == []
    assert all(d.exists() for d in mine) and not stale.exists()


def test_check_sees_a_root_sigstore_file_sign_did_not_write(ws: Path) -> None:
    assert _compile(ws, "--no-cache")[0] == 0
    (ws / "rendered" / "rbac.sigstore.json").write_text("kind: ClusterRoleBinding\n")
    code, err = _compile(ws, "--check")
    assert code == 1 and "M700" in err and "rbac.sigstore.json" in err
    code, err = _compile(ws)  # and a recompile neither keeps it silently nor deletes it
    assert code == 1 and "M701" in err and (ws / "rendered" / "rbac.sigstore.json").exists()
