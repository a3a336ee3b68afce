"""The audit log finds edited, removed, inserted and reordered entries."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from compiler.controller import audit


def _log(tmp_path: Path, n: int = 4) -> Path:
    path = tmp_path / "audit.jsonl"
    for i in range(n):
        audit.append(path, {"result": "succeeded", "n": i}, f"2026-01-0{i + 1}T00:00:00Z")
    return path


def _kinds(path: Path, head: str = "") -> list[tuple[int, str]]:
    return [(p.line, p.kind) for p in audit.verify_file(path, head)]


def test_an_intact_log_verifies_and_chains(tmp_path: Path) -> None:
    path = _log(tmp_path)
    assert audit.verify_file(path) == []
    entries = [json.loads(x) for x in path.read_text().splitlines()]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["prev"] == audit.GENESIS
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(entries))
    assert audit.head_of(path) == entries[-1]["hash"]
    assert audit.verify_file(path, entries[-1]["hash"]) == []


def test_an_edited_entry_is_found(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"succeeded"', '"failed"')
    path.write_text("\n".join(lines) + "\n")
    assert _kinds(path) == [(2, "edited")]


def test_an_edit_that_recomputes_its_hash_still_breaks_the_chain(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["event"]["result"] = "failed"
    entry["hash"] = audit.entry_hash(entry)
    lines[1] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    assert _kinds(path) == [(3, "inserted-or-reordered")]


def test_a_removed_entry_is_found(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = path.read_text().splitlines()
    del lines[1]
    path.write_text("\n".join(lines) + "\n")
    assert _kinds(path) == [(2, "removed")]


def test_removing_the_newest_entries_is_found_against_the_head(tmp_path: Path) -> None:
    path = _log(tmp_path)
    head = audit.head_of(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    assert _kinds(path) == []
    assert _kinds(path, head) == [(0, "removed")]


def test_an_inserted_entry_is_found(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = path.read_text().splitlines()
    forged = json.loads(lines[1])
    forged["event"]["n"] = 99
    forged["hash"] = audit.entry_hash(forged)
    lines.insert(2, json.dumps(forged))
    path.write_text("\n".join(lines) + "\n")
    assert (3, "inserted-or-reordered") in _kinds(path)


def test_reordered_entries_are_found(tmp_path: Path) -> None:
    path = _log(tmp_path)
    lines = path.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    path.write_text("\n".join(lines) + "\n")
    assert _kinds(path) == [(2, "inserted-or-reordered"), (3, "inserted-or-reordered")]


def test_garbage_is_malformed_and_a_damaged_tail_refuses_append(tmp_path: Path) -> None:
    path = _log(tmp_path, 2)
    with path.open("a") as f:
        f.write("{not json\n")
    assert _kinds(path)[0] == (3, "malformed")
    with pytest.raises(ValueError, match="damaged"):
        audit.append(path, {"x": 1}, "t")
