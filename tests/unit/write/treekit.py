"""Trees the writer tests share, and what the writer's snapshots and the cache tests read."""

from __future__ import annotations

import json
from pathlib import Path

from compiler.digest import sha256_hex
from compiler.write import Known, snapshot


def indexed(files: dict[str, bytes], tag: str = "") -> dict[str, bytes]:
    """`files` with an index.json as mentatctl writes one (listing them), so the writer may
    replace the tree later; `tag` makes two versions' indexes differ."""
    listed = sorted(p for p in files if p != "index.json")
    index = {"apiVersion": "mentatlab.io/v1", "kind": "Index", "compiler": {"name": "mentatctl"},
             "files": [{"path": p, "sha256": sha256_hex(files[p])} for p in listed],
             "workspace": tag}
    return {**files, "index.json": json.dumps(index, sort_keys=True).encode() + b"\n"}


TREE = indexed({"a/x.yaml": b"x: 1\n", "a/b/y.yaml": b"y: 2\n"})


def known_of(out: Path, files: dict[str, bytes]) -> Known:
    """The snapshot of `files` as written under `out`: their stat now and their sha256."""
    return {p: (st, sha256_hex(files[p])) for p, st in snapshot(out, files).items()}


def tree_of(out: Path) -> dict[str, bytes]:
    """Every file under `out`, signatures included, by output-relative POSIX path."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}
