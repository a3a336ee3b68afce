"""Which changed paths count (`Relevance`): the files the last compile read and the
directories holding them, and what could be a new input; never the output tree, hidden
paths (.git/, .mentat/, editor swap files, the writer's temporary trees) or other files."""

from __future__ import annotations

from pathlib import Path

from compiler.tasks.watch import Relevance


def _relevance(root: Path) -> Relevance:
    r = Relevance(root)
    r.update(["mentat.yaml", "flows/a.yaml", "policies/.hidden/rules.yaml"], root / "rendered")
    return r


def test_inputs_and_their_directories_count(tmp_path: Path) -> None:
    r = _relevance(tmp_path)
    for rel in ("mentat.yaml", "flows/a.yaml", "flows", "policies/.hidden/rules.yaml",
                "policies/.hidden"):
        assert r.relevant(str(tmp_path / rel), lambda _: False) == rel


def test_what_could_be_a_new_input_counts(tmp_path: Path) -> None:
    r = _relevance(tmp_path)
    for rel in ("flows/b.yml", "flows/new/c.yaml", "agents/m.wasm", "agents/m.wat"):
        assert r.relevant(str(tmp_path / rel), lambda _: False) == rel
    assert r.relevant(str(tmp_path / "flows/new"), lambda _: True) == "flows/new"


def test_output_hidden_and_other_files_do_not_count(tmp_path: Path) -> None:
    r = _relevance(tmp_path)
    for rel in ("rendered/prod/x.yaml", "rendered", ".rendered.tmp-12-ab12cd34/prod/x.yaml",
                ".rendered.old-ab12cd34", ".mentat/cache/unit/x.pack", ".git/index",
                "flows/.a.yaml.swp", "flows/a.yaml~", "flows/#a.yaml#", "flows/4913",
                "README.md"):
        assert r.relevant(str(tmp_path / rel), lambda _: False) is None, rel
    assert r.relevant(str(tmp_path.parent / "elsewhere.yaml"), lambda _: False) is None
