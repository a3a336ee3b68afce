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
            if p in table:
                return Pos(*table[p])
            if key and p in self.positions:
                return Pos(*self.positions[p])
            p = p[:-1]
        return Pos(*self.positions.get((), (1, 1)))

    @property
    def kind(self) -> str:
        return self.data.get("kind", "") if isinstance(self.data, dict) else ""

    @property
    def api_version(self) -> str:
        return self.data.get("apiVersion", "") if isinstance(self.data, dict) else ""
