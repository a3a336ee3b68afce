"""The load stage's memo: the documents of one source file, keyed by (path, sha256 of its
bytes)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from compiler.cache.store import Store, diag_in, diag_out, key
from compiler.diagnostics import Diagnostic
from compiler.model.raw import RawDoc

__all__ = ["Parse", "ParseMemo"]

Parse = Callable[[str, bytes], tuple[list[RawDoc], list[Diagnostic]]]


class ParseMemo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def wrap(self, parse: Parse) -> Parse:
        """`parse` memoised by (path, content digest)."""
        store = self._store

        def cached(rel: str, content: bytes) -> tuple[list[RawDoc], list[Diagnostic]]:
            parse_key = key("parse", (rel, hashlib.sha256(content).hexdigest()))
            value = store.get("parse", parse_key)
            if value is not None:
                try:
                    result = _docs_in(rel, value)
                except (TypeError, ValueError, KeyError, IndexError):
                    store.reject("parse", parse_key)
                else:
                    store.stats.count("parse", True)
                    return result
            store.stats.count("parse", False)
            docs, diags = parse(rel, content)
            store.put("parse", parse_key, _docs_out(docs, diags))
            return docs, diags

        return cached


def _docs_out(docs: list[RawDoc], diags: list[Diagnostic]) -> Any:
    return (
        [(d.index, d.data, {p: tuple(v) for p, v in d.positions.items()},
          {p: tuple(v) for p, v in d.key_positions.items()}) for d in docs],
        [diag_out(x) for x in diags],
    )


def _docs_in(rel: str, value: Any) -> tuple[list[RawDoc], list[Diagnostic]]:
    raw_docs, raw_diags = value
    docs = []
    for index, data, positions, key_positions in raw_docs:
        # a position of the wrong shape is ignored where it is read (RawDoc.pos): checking
        # the ~37k of a 10k-object workspace here cost 12 ms per compile
        if not (type(data) is dict and type(index) is int and type(positions) is dict
                and type(key_positions) is dict):
            raise TypeError("bad parse entry")
        docs.append(RawDoc(rel, index, data, positions, key_positions))
    return docs, [diag_in(t) for t in raw_diags]
