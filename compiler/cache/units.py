"""Render units from the cache: one flow's objects in one environment × region, keyed by the
digests of everything they depend on (see `render.k8s`), with derived values (`memo`) and
large plain documents (`yaml`) beside them.

A unit entry holds a row per object (directory, kind, name, sources, origin, flow, the size
and digest of its YAML, the digest of its dict, whether it names a waiver); `unittext` and
`unitobj` hold the objects' YAML and marshalled dicts under the same key, read only when
needed and checked against those digests. A compile that changes one flow needs only the
rows of the others. An object whose bytes went missing or bad is rendered again from its
unit's inputs (a miss, found where it is read): no caller sees the difference.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable
from itertools import chain
from typing import Any, NamedTuple, TypeVar

import orjson

from compiler.cache.store import Store, diag_in, diag_out, key
from compiler.diagnostics import Diagnostic
from compiler.digest import sha256_hex
from compiler.model import K8sObject
from compiler.policy.stage import WAIVER_PREFIX
from compiler.render.layout import Deferred, dump_object, dump_yaml

__all__ = ["CachedObject", "Unit", "UnitMemo", "data_digest", "is_cached"]

Unit = tuple[list[K8sObject], list[Diagnostic], set[str]]
T = TypeVar("T")
_WAIVER_MARK = WAIVER_PREFIX.encode()


def data_digest(data: Any) -> str:
    """Of an object's content (key order aside): the key part naming it in the policy memo
    and the schema-check record."""
    # hashlib, not sha256_hex: that memo keeps the bytes it hashed alive (it is for output
    # files, hashed several times), and these are throwaway (77 MB held at 10k objects)
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


class UnitMemo:
    """The render stage's memo (`render.RenderCache`) and layout's serialiser."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._units: list[tuple[str, tuple[str, ...], Unit, bool]] = []  # key, deps, unit, hit
        self._bytes: dict[int, tuple[K8sObject, bytes]] = {}  # id(object) -> (object, yaml)
        self._digests: dict[int, tuple[K8sObject, str]] = {}  # id(object) -> (object, data digest)
        self._sound: set[str] | None = None  # unit entries of the right shape
        self.rebuilt: set[str] = set()  # units whose objects' bytes had to be rendered again

    # --- render ----------------------------------------------------------------------------

    def unit(self, parts: tuple[str, ...], depends_on: tuple[str, ...],
             build: Callable[[], Unit]) -> Unit:
        """The unit's objects from the cache, or built (and stored by `store` once the
        compile has succeeded and serialised them). `parts` names every input the unit
        depends on, digests included; `depends_on` are its source files."""
        unit_key = key("unit", parts)
        value = self._store.get("unit", unit_key)
        if value is not None:
            unit = self._unit_in(unit_key, value, build)
            if unit is not None:
                for lazy in ("unittext", "unitobj"):  # read only if needed
                    self._store.mark_used(lazy, unit_key)
                self._store.stats.count("unit", True)
                self._units.append((unit_key, depends_on, unit, True))
                return unit
            self._store.reject("unit", unit_key)
        self._store.stats.count("unit", False)
        unit = build()
        self._units.append((unit_key, depends_on, unit, False))
        return unit

    def memo(self, parts: tuple[str, ...], build: Callable[[], tuple[T, list[Diagnostic]]],
             dump: Callable[[T], Any], load: Callable[[Any], T],
             kind: str = "memo") -> tuple[T, list[Diagnostic]]:
        """A derived value of `kind` (one flow's part of cost.json, say), with the diagnostics
        found making it, from the cache or built and stored. `dump` makes it marshal data and
        `load` makes it back, raising TypeError, ValueError or ArithmeticError for an entry
        of the wrong shape (then a miss)."""
        memo_key = key(kind, parts)
        value = self._store.get(kind, memo_key)
        if value is not None:
            try:
                data, diags = value
                result = (load(data), [diag_in(t) for t in diags])
            except (TypeError, ValueError, ArithmeticError):  # a zero denominator, say
                self._store.reject(kind, memo_key)
            else:
                self._store.stats.count(kind, True)
                return result
        self._store.stats.count(kind, False)
        built, found = build()
        self._store.put(kind, memo_key, (dump(built), [diag_out(d) for d in found]))
        return built, found

    def memo_bytes(self, kind: str, parts: tuple[str, ...], build: Callable[[], bytes]) -> bytes:
        """`memo` for a value that is bytes and comes with no diagnostics."""
        value, _ = self.memo(parts, lambda: (build(), []), lambda b: b, _bytes_in, kind)
        return value

    def _unit_in(self, unit_key: str, value: Any, build: Callable[[], Unit]) -> Unit | None:
        if unit_key not in self._sound_units():
            return None
        items, diags, classes = value
        blobs = _Blobs(self, unit_key, build)
        objs: list[K8sObject] = [CachedObject._make((*row, blobs, i))  # type: ignore[misc]
                                 for i, row in enumerate(items)]
        return objs, [diag_in(t) for t in diags], {str(c) for c in classes}

    def _sound_units(self) -> set[str]:
        """The unit entries whose object rows have the right shape."""
        if self._sound is None:
            self._sound = self._store.sound("unit", _sound_unit_keys)
        return self._sound

    # --- layout ----------------------------------------------------------------------------

    def yaml(self, dump: Callable[[dict[str, Any]], bytes]) -> Callable[[dict[str, Any]], bytes]:
        """`dump` for large documents of plain data (a kustomization lists every file of its
        directory: 2,500 names take libyaml 6 ms), remembered by the digest of their JSON."""

        def cached(doc: dict[str, Any]) -> bytes:
            parts = (hashlib.sha256(orjson.dumps(doc)).hexdigest(),)
            return self.memo_bytes("yaml", parts, lambda: dump(doc))

        return cached

    def serialise(self, o: K8sObject) -> bytes | Deferred:
        """An object's YAML: cached objects stay as they are (their bytes are read only if
        needed), the bytes of new ones are remembered for `store`. Objects are values once
        rendered: no stage after render mutates `K8sObject.obj`."""
        if isinstance(o, CachedObject):
            return o
        text = self.text(o)
        if text is None:
            text = dump_object(o)
            self._bytes[id(o)] = (o, text)
        return text

    def data_digest(self, o: K8sObject) -> str:
        """A new object's `data_digest`, computed once (the schema-check record and the unit
        entry both key on it)."""
        hit = self._digests.get(id(o))
        if hit is None or hit[0] is not o:
            hit = self._digests[id(o)] = (o, data_digest(o.obj))
        return hit[1]

    def text(self, o: K8sObject) -> bytes | None:
        if isinstance(o, CachedObject):
            return o.content()
        hit = self._bytes.get(id(o))
        return hit[1] if hit is not None and hit[0] is o else None

    # --- end of compile --------------------------------------------------------------------

    @property
    def keys(self) -> list[str]:
        return sorted(unit_key for unit_key, *_ in self._units)

    @property
    def units(self) -> list[tuple[str, tuple[str, ...], Unit, bool]]:
        return self._units

    def store(self, made: set[str]) -> int:
        """Store the units this compile built (or rendered again); returns how many."""
        stored = 0
        for unit_key, _, unit, hit in self._units:
            if hit and unit_key not in self.rebuilt:
                continue
            value = self._unit_out(unit)
            if value is None:
                continue
            # the unit's pack last: its lazy entries exist once it can be found
            self._store.write_now("unittext", unit_key, value[1], made)
            self._store.write_now("unitobj", unit_key, value[2], made)
            self._store.put("unit", unit_key, value[0])
            stored += 1
        return stored

    def _unit_out(self, unit: Unit) -> tuple[Any, list[bytes], list[bytes]] | None:
        """The unit entry, its objects' YAML and their marshalled dicts: each an entry of its
        own, the last two read only when a file must be written or compared, or a policy
        rule evaluates an object again."""
        items, texts, dicts = [], [], []
        for o in unit[0]:
            text = self.text(o)
            if text is None:
                return None  # not serialised: the compile stopped before layout
            items.append((o.dir, o.kind, o.name, o.sources, o.origin, o.group, len(text),
                          sha256_hex(text), self.data_digest(o), _WAIVER_MARK in text))
            texts.append(text)
            dicts.append(marshal.dumps(o.obj, 4))
        return (items, [diag_out(d) for d in unit[1]], sorted(unit[2])), texts, dicts


def _bytes_in(value: Any) -> bytes:
    if type(value) is not bytes:
        raise TypeError("bad yaml entry")
    return value


def _sound_unit_keys(entries: dict[str, Any]) -> set[str]:
    """The keys of unit entries of the right shape, their rows all checked at once."""
    sound = {k for k, v in entries.items() if type(v) is tuple and len(v) == 3 and type(v[0]) is list}
    if not _rows_ok(list(chain.from_iterable(entries[k][0] for k in sound))):
        sound = {k for k in sound if _rows_ok(entries[k][0])}  # which ones are not
    return sound


def _rows_ok(rows: list[Any]) -> bool:
    """Object rows of unit entries of the right shape."""
    def row_ok(r: Any) -> bool:
        if type(r) is not tuple or len(r) != _ROW_FIELDS:
            return False
        d, kind, name, sources, origin, group, size, digest, ddigest, waives = r
        return (all(type(x) is str for x in (d, kind, name, group, digest, ddigest))
                and type(size) is int and type(waives) is bool
                and type(sources) is tuple and all(type(s) is str for s in sources)
                and type(origin) is tuple and len(origin) == 3 and type(origin[0]) is str
                and type(origin[1]) is int and type(origin[2]) is int)

    return all(map(row_ok, rows))


class _Blobs:
    """A cached unit's lazily read entries (its objects' YAML, `unittext`, and their
    marshalled dicts, `unitobj`), what was made of them, and how to render it again."""

    __slots__ = ("_build", "_entries", "_key", "_memo", "_rebuilt", "texts", "values")

    def __init__(self, memo: UnitMemo, unit_key: str, build: Callable[[], Unit]) -> None:
        self._memo, self._key, self._build = memo, unit_key, build
        self._entries: dict[str, list[Any]] = {}
        self._rebuilt: list[K8sObject] | None = None
        self.texts: dict[int, bytes] = {}
        self.values: dict[int, dict[str, Any]] = {}

    def get(self, kind: str, index: int) -> bytes | None:
        blobs = self._entries.get(kind)
        if blobs is None:
            store = self._memo._store
            value = store.get(kind, self._key)
            if value is not None and type(value) is not list:
                store.discard(kind, self._key)
            blobs = self._entries[kind] = value if type(value) is list else []
        blob = blobs[index] if index < len(blobs) else None
        return blob if type(blob) is bytes else None

    def rendered_again(self, index: int) -> dict[str, Any]:
        """The object's dict from rendering its unit again: its entries were lost."""
        if self._rebuilt is None:
            self._rebuilt = self._build()[0]
            self._memo.rebuilt.add(self._key)  # stored again at the end of the compile
        return self._rebuilt[index].obj


class _Row(NamedTuple):
    dir: str
    kind: str
    name: str
    sources: tuple[str, ...]
    origin: tuple[str, int, int]
    group: str
    size: int  # of its YAML
    digest: str  # of its YAML
    data_digest: str  # of its dict (policy memo keys)
    waives: bool  # its YAML names a policy waiver
    blobs: _Blobs
    position: int  # in its unit


_ROW_FIELDS = len(_Row._fields) - 2  # stored in a unit entry: all but blobs and position


class CachedObject(_Row):
    """A rendered object from the cache, standing in for a `K8sObject`, whose YAML and dict
    are read only when first needed. For layout it is `Deferred`: its size and digest are
    known without its bytes."""

    __slots__ = ()

    def content(self) -> bytes:
        """Its YAML: from the unittext entry, else dumped again from its dict, always with
        the recorded digest."""
        blobs, i = self.blobs, self.position
        text = blobs.texts.get(i)
        if text is None:
            text = blobs.get("unittext", i)
            if text is None or len(text) != self.size or sha256_hex(text) != self.digest:
                text = dump_yaml(self.obj)
                if sha256_hex(text) != self.digest:  # the renderer is deterministic
                    raise RuntimeError(f"{self.dir}/{self.kind} {self.name}: rendered again, "
                                       "its YAML differs from the cached digest")
            blobs.texts[i] = text
        return text

    @property
    def obj(self) -> dict[str, Any]:
        blobs, i = self.blobs, self.position
        value = blobs.values.get(i)
        if value is None:
            blob = blobs.get("unitobj", i)
            try:
                loaded = marshal.loads(blob) if blob is not None else None
            except (EOFError, ValueError, TypeError):
                loaded = None
            if not (isinstance(loaded, dict) and data_digest(loaded) == self.data_digest):
                loaded = blobs.rendered_again(i)
            value = blobs.values[i] = loaded
        return value


def is_cached(o: K8sObject) -> bool:
    return isinstance(o, CachedObject)
