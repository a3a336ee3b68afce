"""Unvalidated documents as `load` produces them: plain data plus node positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

Path_ = tuple[str | int, ...]  # a JSON-pointer-like path into a document


class Pos(NamedTuple):  # a tuple: the parse cache stores tables of them as they are
    line: int  # 1-based
    col: int  # 1-based


@dataclass(frozen=True, slots=True)
class RawDoc:
    """One YAML document of a source file.

    `positions` maps every path in `data` (mapping keys and sequence indexes) to where its
    value starts; `key_positions` maps mapping entries to where their key starts (unknown-field
    errors point at the key, not the value). Values are `Pos` or, from the parse cache, plain
    (line, col) tuples: read them through `pos`.
    """

    file: str  # path relative to the workspace root, POSIX separators
    index: int  # position of the document in its file (0-based)
    data: Any
    positions: dict[Path_, Pos] = field(default_factory=dict, compare=False, repr=False)
    key_positions: dict[Path_, Pos] = field(default_factory=dict, compare=False, repr=False)

    def pos(self, path: Path_ = (), *, key: bool = False) -> Pos:
        """Position of the node at `path`, or of its nearest ancestor that has one."""
        table = self.key_positions if key else self.positions
        p = tuple(path)
        while p:
            found = _pos(table, p) or (_pos(self.positions, p) if key else None)
            if found:
                return found
            p = p[:-1]
        return _pos(self.positions, ()) or Pos(1, 1)

    @property
    def kind(self) -> str:
        return self.data.get("kind", "") if isinstance(self.data, dict) else ""

    @property
    def api_version(self) -> str:
        return self.data.get("apiVersion", "") if isinstance(self.data, dict) else ""


def _pos(table: dict[Path_, Pos], path: Path_) -> Pos | None:
    """The position at `path`, if the table has one of the right shape (tables from the
    parse cache are checked here, where they are read, not all of them when loaded)."""
    v = table.get(path)
    if isinstance(v, tuple) and len(v) == 2 and type(v[0]) is int and type(v[1]) is int:
        return Pos(*v)
    return None
