"""The check stage's memo: the Kubernetes schema of each kind, and the objects known to pass.

`schema`: the schema of a kind with the definitions it reaches, per (schema version,
apiVersion, kind); `checked`: the digests of objects (`data_digest`) that passed the check,
per schema version. Objects of a cached unit passed when the unit was stored (units are
stored only after a clean compile, and the schema version is part of their key).
"""

from __future__ import annotations

from collections.abc import Callable

from compiler.cache.store import Store, key
from compiler.cache.units import UnitMemo, is_cached
from compiler.model import K8sObject

__all__ = ["CheckMemo"]


class CheckMemo:
    def __init__(self, store: Store, units: UnitMemo) -> None:
        self._store, self._units = store, units
        # the schema version, the digests known to pass, and the new objects' digests
        self._known: tuple[str, set[str]] | None = None
        self._fresh: set[str] = set()
        self._clean = False

    def schemas(self, text: Callable[[str, str, str], bytes | None]
                ) -> Callable[[str, str, str], bytes | None]:
        """`check.schema_text` remembered per (schema version, apiVersion, kind); the
        schemas are part of the compiler's fingerprint."""

        def cached(version: str, api: str, kind: str) -> bytes | None:
            found = self._units.memo_bytes("schema", (version, api, kind),
                                           lambda: text(version, api, kind) or b"")
            return found or None

        return cached

    def unchecked(self, objects: list[K8sObject], version: str) -> list[K8sObject]:
        """The objects the schema check must still see: new ones whose content did not pass
        before. Call `passed` when the check is clean."""
        value = self._store.get("checked", key("checked", (version,)))
        ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
        known = set(value) if ok else set()
        self._store.stats.count("checked", ok)
        self._known, self._fresh = (version, known), set()
        todo = []
        for o in objects:
            if is_cached(o):
                continue
            digest = self._units.data_digest(o)
            self._fresh.add(digest)
            if digest not in known:
                todo.append(o)
        return todo

    def passed(self) -> None:
        """Every object passed the check: `store` may remember them."""
        self._clean = self._known is not None

    @property
    def clean(self) -> bool:
        return self._clean

    def store(self) -> None:
        if not self._clean or self._known is None:
            return
        version, known = self._known
        if not self._fresh <= known:
            # Keep older digests (an edit undone hits again), within a bound.
            bound = 4 * len(self._fresh) + 1000
            keep = known | self._fresh if len(known) < bound else self._fresh
            self._store.put("checked", key("checked", (version,)), sorted(keep))
