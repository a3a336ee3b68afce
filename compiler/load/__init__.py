"""Stage 1, load: find the workspace's sources and parse them safely into `RawDoc`s.

- `parse`     the safe YAML parser (libyaml node positions; no tags, no duplicate keys,
              alias, size and depth limits); `parse_yaml` is pure, so cached by digest
- `files`     the workspace's files: finding its root, reading inside it without escapes,
              the source files and policy rule files it names
- `discover`  mentat.yaml checked, its sources found, its output tree placed; the digests
              of every input for the incremental cache

`load` (here) reads and parses every source file discovery found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from compiler.diagnostics import Diagnostic
from compiler.load.discover import (
    Discovered,
    LoadResult,
    discover,
    input_digests,
    output_conflict,
    output_dir,
)
from compiler.load.files import (
    WORKSPACE_FILE,
    find_sources,
    find_workspace_root,
    is_fixture,
    policy_files,
    read_source,
    resolve_inside,
    rule_files,
)
from compiler.load.parse import (
    MAX_ALIAS_BYTES,
    MAX_ALIAS_EXPANSIONS,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    parse_yaml,
)
from compiler.model.raw import RawDoc

__all__ = [
    "MAX_ALIAS_BYTES",
    "MAX_ALIAS_EXPANSIONS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "WORKSPACE_FILE",
    "Discovered",
    "LoadResult",
    "discover",
    "find_sources",
    "find_workspace_root",
    "input_digests",
    "is_fixture",
    "load",
    "output_conflict",
    "output_dir",
    "parse_yaml",
    "policy_files",
    "read_source",
    "resolve_inside",
    "rule_files",
]


def load(
    root: Path,
    output: str | None = None,
    parse: Callable[[str, bytes], tuple[list[RawDoc], list[Diagnostic]]] = parse_yaml,
    discovered: Discovered | None = None,
) -> LoadResult:
    """Read mentat.yaml and every source file it names. Collects diagnostics; never raises.
    `parse` is `parse_yaml` or a memoised version of it (compiler/cache/parse.py); `discovered`,
    what `input_digests` found and read just before, for the same `root` and `output`."""
    if discovered is not None and discovered.found.root == root.resolve():
        result, contents, known = discovered.found, discovered.contents, discovered.digests
    else:
        result, contents, known = discover(root, output), {}, {}
    dirs: dict[str, Path] = {}
    for rel in result.files:
        content = contents.get(rel)
        if content is not None:
            result.digests[rel] = known[rel]
        else:
            content, err = read_source(result.root, rel, dirs)
            if err:
                result.diagnostics.append(err)
                continue
            assert content is not None
            result.digests[rel] = hashlib.sha256(content).hexdigest()
        docs, diags = parse(rel, content)
        result.docs += docs
        result.diagnostics += diags
    return result
