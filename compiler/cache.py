"""Incremental compilation: a content-addressed cache under `<workspace>/.mentat/`.

Entries are keyed by the sha256 of everything their value depends on plus the compiler's
fingerprint (version, a digest of its own source code and of the libraries whose behaviour
shapes the output), so a stale entry is never looked up rather than invalidated:

- `parse`: the documents of one source file, keyed by (path, sha256 of its bytes);
- `unit`: one flow's objects in one environment × region (a `_Row` each: directory, kind,
  name, sources, origin, flow, the size and digest of its YAML, the digest of its dict,
  whether it names a waiver), keyed by the digests of the flow's document, its resolved
  agents' documents, the workspace document, the wasm bundles it references and the target
  (see `render.k8s`); `unittext` and `unitobj` hold the objects' YAML and marshalled dicts
  under the same key, read only when needed, and checked against those digests;
- `memo`: other derived values, such as one flow's part of cost.json, keyed the same way;
  `yaml`: large plain documents (kustomizations) by the digest of their data;
  `schema`: the Kubernetes schema of a kind with the definitions it reaches (`check`);
- `policy`: rule outcomes per sibling group or source file (`PolicyMemo`);
- `checked`: the digests of serialised objects that passed the Kubernetes schema check,
  per schema version (an object with the same bytes passes again);
- `snapshot`: the stat and digest of every file of an output tree and of its standby copy,
  in two slots per output directory, the newer the output's;
- `build`: the outcome of the last successful compile into one output directory (its
  diagnostics, waivers and file count) with the sha256 of every file it read. When every
  such file, the list of sources found and the output tree (by its stat snapshot) are as
  they were, `replay` returns that outcome and the compile is skipped, as make or ninja
  skip an up-to-date target; the compiler itself is part of the key.

`.mentat/manifest.json` is the dependency graph of the last compile (dbt-style): sources →
render units → output files. `.mentat/standby/` holds the standby copies of output trees
(write.py).

Entries are `marshal` data (plain dicts, lists, tuples, str, bytes, int) behind a magic
header and an HMAC-SHA256 of the payload, one file each; the kinds with many small entries
(`parse`, `policy`, `memo`, `yaml`, `schema`, `unit`) are kept as packs of a few shards per
kind instead, read at once and a shard rewritten with only what the compile used (creating
thousands of small files cost more than the compile's own work on a cold 10k-object
workspace). A truncated, corrupted or foreign entry fails the digest or the shape check and
is ignored (and deleted), never trusted. `marshal` executes nothing while loading (unlike
pickle), is what CPython itself trusts for `.pyc` caches, and loads ~10x faster than JSON
for this data; the digest is checked before it sees any byte.

The HMAC's key lives outside every workspace (`key_path`: the user's config directory, made
on first use, 0600, refused when anyone else could read or write it), so whoever can write
`.mentat/` (a committed directory, a restored CI cache, a shared runner) cannot seal an
entry: an edited or forged one fails the check like a corrupt one. It costs what the
unkeyed sha256 did (`hmac.digest` is one C call over the same bytes). Without a usable key
the cache is off and every compile is cold. Diagnostics are cached with
what produced them, so a warm run reports what a cold one does.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.util
import marshal
import os
import secrets
import shutil
import stat
import sys
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from itertools import chain, count, repeat
from operator import add, attrgetter, itemgetter
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

import orjson

from compiler import __version__
from compiler.diagnostics import Diagnostic, Severity
from compiler.digest import sha256_hex
from compiler.load import Discovered, input_digests  # the loader's own discovery, not a copy
from compiler.model.raw import RawDoc
from compiler.policy.stage import WAIVER_PREFIX
from compiler.render import K8sObject
from compiler.render.layout import (
    INDEX,
    Deferred,
    LostContent,
    dump_object,
    dump_yaml,
    files_of,
    object_path,
)
from compiler.resources import policies_dir, schemas_dir
from compiler.walk import Prescan, Scan
from compiler.write import Known, Standby, hold, snapshot, untouched

__all__ = ["CACHE_DIR", "KEY_ENV", "MANIFEST", "Cache", "Replay", "fingerprint", "key_path"]

CACHE_DIR = ".mentat/cache"
MANIFEST = ".mentat/manifest.json"
_WAIVER_MARK = WAIVER_PREFIX.encode()
RECORDS_KEPT_S = 7 * 24 * 3600  # unused build and snapshot records, then pruned
PRESCAN_MIN_FILES = 2000  # below, walking the trees inline costs about what the helper does
STANDBY_DIR = ".mentat/standby"  # the second buffer of each output tree (write.Standby)
_FORMAT = 3  # bump when an entry's layout changes
_MAGIC = b"MENTATC2"  # C2: entries authenticated by HMAC-SHA256 (C1: an unkeyed sha256)
KEY_ENV = "MENTAT_CACHE_KEY_FILE"  # where the cache's key lives, instead of key_path()
_KEY_BYTES = 32
_CODE = (".py", ".json", ".yaml", ".yml", ".cel")
# many small entries: a few files per kind
_PACKED = frozenset({"parse", "policy", "memo", "yaml", "schema", "unit"})
_KINDS = _PACKED | {"unittext", "unitobj", "checked", "snapshot", "build"}
_LIBS = ("yaml", "_yaml", "jsonschema_rs", "kubernetes_validate", "jsonschema",
         "cel_expr_python.cel", "wasmtime", "orjson", "semantic_version")

Unit = tuple[list[K8sObject], list[Diagnostic], set[str]]
T = TypeVar("T")


@cache
def fingerprint() -> str:
    """The compiler's identity for cache keys: version, its own code and schemas, the
    libraries whose behaviour shapes the output, and the Python (marshal) version."""
    h = hashlib.sha256(f"{_FORMAT}|{__version__}|{sys.version_info[:2]}".encode())
    pkg = Path(__file__).resolve().parent
    for base in (pkg, schemas_dir(), policies_dir()):
        for path in sorted(base.rglob("*")) if base.is_dir() else ():
            if path.suffix in _CODE and "__pycache__" not in path.parts:
                h.update(path.relative_to(base).as_posix().encode() + b"\0")
                h.update(path.read_bytes())
    for lib in _LIBS:  # a reinstall changes the stat of its files (cheaper than metadata)
        spec = importlib.util.find_spec(lib)
        origin = spec.origin if spec is not None else None
        if origin:
            st = os.stat(origin)
            h.update(f"{lib}:{origin}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


def key_path() -> Path:
    """Where the cache's HMAC key is kept: $MENTAT_CACHE_KEY_FILE, else the user's config
    directory ($XDG_CONFIG_HOME or ~/.config)/mentatctl/cache.key."""
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit).absolute()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base).absolute() / "mentatctl" / "cache.key"


@cache
def _auth_key(path: Path) -> bytes | None:
    """The key at `path`, made on first use; None when it cannot be trusted or made: not a
    regular file of this user's, readable or writable by others, of the wrong size."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(2):
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            _make_key(path)
            continue
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            key = os.read(fd, _KEY_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077
                or len(key) != _KEY_BYTES):
            return None
        return key
    return None


def _make_key(path: Path) -> None:
    """Write a new random key, 0600, published whole by a hard link (a concurrent first
    compile reads either no key or the complete one; the loser of a race keeps the other's)."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
        try:
            os.write(fd, secrets.token_bytes(_KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)


def _key(kind: str, parts: Iterable[str]) -> str:
    h = hashlib.sha256(f"{kind}\0{fingerprint()}".encode())
    parts = list(parts)
    if parts:  # each part after a NUL, hashed at once (policy keys have a part per object)
        h.update(("\0" + "\0".join(parts)).encode())
    return h.hexdigest()


def _diag_out(d: Diagnostic) -> tuple[Any, ...]:
    return (d.code, d.message, d.file, d.line, d.col, str(d.severity), d.hint)


def _diag_in(t: Any) -> Diagnostic:
    code, message, file, line, col, severity, hint = t
    return Diagnostic(code, message, file, line, col, Severity(severity), hint)


@dataclass(frozen=True, slots=True)
class Replay:
    """What a successful compile reported, to report again while nothing has changed."""

    output: str  # the output directory, absolute
    files: int
    diagnostics: list[Diagnostic]  # warnings and notes (a successful compile has no errors)
    waivers: list[dict[str, Any]]  # as `--format json` prints them
    waiver_lines: list[str]  # as text output prints them


@dataclass(slots=True)
class Stats:
    """What the cache did in one compile (tests read it)."""

    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    rejected: int = 0  # entries present but corrupt, truncated or of the wrong shape
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, kind: str, hit: bool) -> None:
        table = self.hits if hit else self.misses
        with self._lock:  # the policy phases count from their threads
            table[kind] = table.get(kind, 0) + 1

    def reject(self) -> None:
        with self._lock:
            self.rejected += 1


class Cache:
    """One compile's view of `<root>/.mentat/`: lookups, then `save()` at the end."""

    def __init__(self, root: Path, shared: Path | None = None) -> None:
        """`shared`: compile `root` (a temporary tree, as `diff` makes) with the entries of
        that workspace's cache, adding new ones and dropping none: its own compiles decide
        what is stale."""
        self.root = root
        self.dir = (shared or root) / CACHE_DIR
        self.guest = shared is not None
        self._dir = str(self.dir)
        self.stats = Stats()
        self._pending: dict[tuple[str, str], bytes] = {}
        self._used: dict[str, set[str]] = {}
        self._bytes: dict[int, tuple[K8sObject, bytes]] = {}  # id(object) -> (object, yaml)
        self._units: list[tuple[str, tuple[str, ...], Unit, bool]] = []  # key, deps, unit, hit
        self._checked: tuple[str, set[str], list[K8sObject]] | None = None
        self._manifest_data: dict[str, Any] | None = None
        self._manifest_units: dict[Any, Any] | None = None  # its units by key, when asked
        # the build entry `save` stores: key, inputs, the rest of the outcome
        self._record: tuple[str, dict[str, str], tuple[Any, ...]] | None = None
        self._packs: dict[str, dict[str, Any]] = {}  # kind -> key -> value (_PACKED kinds)
        self._sound: set[str] | None = None  # unit entries of the right shape (_sound_units)
        self._discovered: Discovered | None = None  # what replay read (load reads no more)
        self._slots: dict[str, tuple[_Slot, _Slot]] = {}  # out -> its and its standby's
        self._lost: set[str] = set()  # units whose objects' bytes could not be had
        # where the last compile wrote, and how many files (its build entry)
        self._last_output: tuple[Path, int] | None = None
        # the output tree a Prescan walks, its standby (held, when it has one), the walker
        self._prescan: tuple[Path, Standby | None, Prescan] | None = None
        self._dirty: set[tuple[str, int]] = set()  # pack shards with new or rejected entries
        self._lock = threading.Lock()
        # A repository can commit `.mentat/` as symlinks to elsewhere (CI runners, Argo CD
        # repo servers compile untrusted trees): then the cache is neither read nor written.
        self.disabled = _redirected(shared or root)
        # The key must be out of reach of whoever writes the workspace: never inside it (nor
        # inside the tree compiled with its cache).
        path = key_path()
        real = path.resolve()
        inside = any(w.resolve() in (real, *real.parents) for w in {root, shared or root})
        self._auth = None if self.disabled or inside else _auth_key(path)
        self.disabled = self._auth is None

    # --- entries ---------------------------------------------------------------------------

    def _path(self, kind: str, key: str) -> str:
        # a string, not a Path: units are read by the hundred
        return os.path.join(self._dir, kind, key[:2], key[2:])

    def _pack_path(self, kind: str, shard: int) -> tuple[Path, str]:
        key = _key("pack", (kind, str(shard)))
        return self.dir / kind / f"{key}.pack", key

    def _get(self, kind: str, key: str) -> Any:
        self._used.setdefault(kind, set()).add(key)
        if self.disabled:
            return None
        if kind in _PACKED:
            return self._pack(kind).get(key)
        return self._read(self._path(kind, key), key)

    def _read(self, path: str | Path, key: str) -> Any:
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError:
            return None
        head = len(_MAGIC) + 32
        if (len(blob) < head or blob[: len(_MAGIC)] != _MAGIC or self._auth is None
                or not hmac.compare_digest(_mac(self._auth, memoryview(blob)[head:]),
                                           blob[len(_MAGIC):head])):
            self._discard(path)  # corrupt, foreign, or sealed without our key: forged
            return None
        try:
            value = marshal.loads(blob[head:])
        except (EOFError, ValueError, TypeError):
            self._discard(path)
            return None
        if not (isinstance(value, tuple) and len(value) == 2 and value[0] == key):
            self._discard(path)  # an entry copied under another key, or of another format
            return None
        return value[1]

    def _pack(self, kind: str) -> dict[str, Any]:
        """All entries of a kind of many small ones, read (and verified) at once from its
        shards (`_shards`): a new entry rewrites its shard, not the whole kind."""
        pack = self._packs.get(kind)
        if pack is not None:
            return pack
        with self._lock:  # the policy phases read theirs from threads
            pack = self._packs.get(kind)
            if pack is not None:
                return pack
            pack = {}
            for shard in range(_shards(kind)):
                path, key = self._pack_path(kind, shard)
                value = self._read(path, key)
                if value is not None and type(value) is not dict:
                    self._discard(path)
                elif value is not None:
                    pack.update(value)
            self._packs[kind] = pack
        return pack

    def _reject(self, kind: str, key: str) -> None:
        """An entry that passed its digest but not the shape check of its reader."""
        if kind in _PACKED:
            self.stats.reject()
            self._pack(kind).pop(key, None)
            self._dirty.add((kind, _shard(kind, key)))
        else:
            self._discard(self._path(kind, key))

    def _discard(self, path: str | Path) -> None:
        self.stats.reject()
        with contextlib.suppress(OSError):
            os.unlink(path)

    def _entry(self, kind: str, key: str, value: Any) -> tuple[str, bytes]:
        self._used.setdefault(kind, set()).add(key)
        return self._path(kind, key), self._seal(key, value)

    def _seal(self, key: str, value: Any) -> bytes:
        """An entry: magic, the HMAC of the payload, then the payload naming its own key."""
        assert self._auth is not None  # a disabled cache writes nothing
        payload = marshal.dumps((key, value), 4)
        return _MAGIC + _mac(self._auth, payload) + payload

    def _put(self, kind: str, key: str, value: Any) -> None:
        if self.disabled:  # nothing is stored, so nothing needs sealing
            self._used.setdefault(kind, set()).add(key)
            return
        if kind in _PACKED:
            self._used.setdefault(kind, set()).add(key)
            self._pack(kind)[key] = value
            self._dirty.add((kind, _shard(kind, key)))
            return
        self._pending[(kind, key)] = self._entry(kind, key, value)[1]

    # --- load: parsed documents per source file --------------------------------------------

    def parse(self, parse: Callable[[str, bytes], tuple[list[RawDoc], list[Diagnostic]]]
              ) -> Callable[[str, bytes], tuple[list[RawDoc], list[Diagnostic]]]:
        """`parse` memoised by (path, content digest)."""

        def cached(rel: str, content: bytes) -> tuple[list[RawDoc], list[Diagnostic]]:
            key = _key("parse", (rel, hashlib.sha256(content).hexdigest()))
            value = self._get("parse", key)
            if value is not None:
                try:
                    result = _docs_in(rel, value)
                except (TypeError, ValueError, KeyError, IndexError):
                    self._reject("parse", key)
                else:
                    self.stats.count("parse", True)
                    return result
            self.stats.count("parse", False)
            docs, diags = parse(rel, content)
            self._put("parse", key, _docs_out(docs, diags))
            return docs, diags

        return cached

    # --- render: one flow in one environment × region --------------------------------------

    def unit(self, parts: tuple[str, ...], depends_on: tuple[str, ...],
             build: Callable[[], Unit]) -> Unit:
        """The unit's objects from the cache, or built (and stored by `save` once the
        compile has succeeded and serialised them). `parts` names every input the unit
        depends on, digests included; `depends_on` are its source files."""
        key = _key("unit", parts)
        value = self._get("unit", key)
        if value is not None:
            try:
                unit = self._unit_in(key, value)
            except (TypeError, ValueError, KeyError, IndexError):
                self._reject("unit", key)
            else:
                for lazy in ("unittext", "unitobj"):  # read only if needed
                    self._used.setdefault(lazy, set()).add(key)
                self.stats.count("unit", True)
                self._units.append((key, depends_on, unit, True))
                return unit
        self.stats.count("unit", False)
        unit = build()
        self._units.append((key, depends_on, unit, False))
        return unit

    def memo(self, parts: tuple[str, ...], build: Callable[[], tuple[T, list[Diagnostic]]],
             dump: Callable[[T], Any], load: Callable[[Any], T],
             kind: str = "memo") -> tuple[T, list[Diagnostic]]:
        """A derived value of `kind` (one flow's part of cost.json, say), with the diagnostics
        found making it, from the cache or built and stored. `dump` makes it marshal data and
        `load` makes it back, raising TypeError, ValueError or ArithmeticError for an entry
        of the wrong shape (then ignored)."""
        key = _key(kind, parts)
        value = self._get(kind, key)
        if value is not None:
            try:
                data, diags = value
                result = (load(data), [_diag_in(t) for t in diags])
            except (TypeError, ValueError, ArithmeticError):  # a zero denominator, say
                self._reject(kind, key)
            else:
                self.stats.count(kind, True)
                return result
        self.stats.count(kind, False)
        built, found = build()
        self._put(kind, key, (dump(built), [_diag_out(d) for d in found]))
        return built, found

    def yaml(self, dump: Callable[[dict[str, Any]], bytes]) -> Callable[[dict[str, Any]], bytes]:
        """`dump` for large documents of plain data (a kustomization lists every file of its
        directory: 2,500 names take libyaml 6 ms), remembered by the digest of their JSON."""

        def cached(doc: dict[str, Any]) -> bytes:
            parts = (hashlib.sha256(orjson.dumps(doc)).hexdigest(),)
            return self._memo_bytes("yaml", parts, lambda: dump(doc))

        return cached

    def schemas(self, text: Callable[[str, str, str], bytes | None]
                ) -> Callable[[str, str, str], bytes | None]:
        """`check.schema_text` remembered per (schema version, apiVersion, kind); the
        schemas are part of the compiler's fingerprint."""

        def cached(version: str, api: str, kind: str) -> bytes | None:
            found = self._memo_bytes("schema", (version, api, kind),
                                     lambda: text(version, api, kind) or b"")
            return found or None

        return cached

    def _memo_bytes(self, kind: str, parts: tuple[str, ...],
                    build: Callable[[], bytes]) -> bytes:
        """`memo` for a value that is bytes and comes with no diagnostics."""
        value, _ = self.memo(parts, lambda: (build(), []), lambda b: b, _bytes_in, kind)
        return value

    def _unit_in(self, key: str, value: Any) -> Unit:
        items, diags, classes = value
        if key not in self._sound_units():
            raise TypeError("bad unit entry")
        # built in C: a 10k-object compile reads ~600 units of ~17 objects each
        blobs = _Blobs(self, key)
        objs = list(map(tuple.__new__, repeat(_CachedObject),
                        map(add, items, zip(repeat(blobs), count()))))
        return cast(list[K8sObject], objs), [_diag_in(t) for t in diags], {str(c) for c in classes}

    def _sound_units(self) -> set[str]:
        """The unit entries whose object rows have the right shape, all checked at once."""
        if self._sound is None:
            pack = self._pack("unit")
            sound = {k for k, v in pack.items()
                     if type(v) is tuple and len(v) == 3 and type(v[0]) is list}
            if not _rows_ok(list(chain.from_iterable(pack[k][0] for k in sound))):
                sound = {k for k in sound if _rows_ok(pack[k][0])}  # which ones are not
            self._sound = sound
        return self._sound

    def _unit_out(self, unit: Unit) -> tuple[Any, list[bytes], list[bytes]] | None:
        """The unit entry, its objects' YAML and their marshalled dicts: each an entry of its
        own, the last two read only when a file must be written or compared, or a policy
        rule evaluates an object again."""
        items, texts, dicts = [], [], []
        for o in unit[0]:
            text = self._text(o)
            if text is None:
                return None  # not serialised: the compile stopped before layout
            items.append((o.dir, o.kind, o.name, o.sources, o.origin, o.group, len(text),
                          sha256_hex(text), data_digest(o.obj), _WAIVER_MARK in text))
            texts.append(text)
            dicts.append(marshal.dumps(o.obj, 4))
        return (items, [_diag_out(d) for d in unit[1]], sorted(unit[2])), texts, dicts

    def _text(self, o: K8sObject) -> bytes | None:
        if type(o) is _CachedObject:
            return o.content()
        hit = self._bytes.get(id(o))
        return hit[1] if hit is not None and hit[0] is o else None

    def serialise(self, dump: Callable[[K8sObject], bytes]
                  ) -> Callable[[K8sObject], bytes | Deferred]:
        """`dump` that leaves objects from the cache as they are (their bytes are read only
        if needed) and remembers the bytes of new ones. Objects are values once rendered:
        no stage after render mutates `K8sObject.obj`."""

        def cached(o: K8sObject) -> bytes | Deferred:
            if type(o) is _CachedObject:
                return o
            text = self._text(o)
            if text is None:
                text = dump(o)
                self._bytes[id(o)] = (o, text)
            return text

        return cached

    # --- check: objects already known to pass the schema -----------------------------------

    def unchecked(self, objects: list[K8sObject], version: str) -> list[K8sObject]:
        """The objects the schema check must still see. Objects of a cached unit passed it
        when the unit was stored (units are stored only after a clean compile, and the
        schema version is part of their key); new objects are serialised now (layout reuses
        the bytes) and skipped when the same bytes passed before. Call `passed` when the
        check is clean."""
        value = self._get("checked", _key("checked", (version,)))
        ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
        known = set(value) if ok else set()
        self.stats.count("checked", ok)
        self._checked = (version, known, [])
        dump = self.serialise(dump_object)
        return [o for o in objects
                if type(o) is not _CachedObject and sha256_hex(dump(o)) not in known]

    def passed(self, objects: list[K8sObject], version: str) -> None:
        """Every one of `objects` passed the check: `save` may store them."""
        if self._checked is not None and self._checked[0] == version:
            self._checked = (version, self._checked[1], objects)

    # --- policy: outcomes per sibling group ------------------------------------------------

    def policy_memo(self) -> PolicyMemo:
        return PolicyMemo(self)

    # --- output tree snapshot --------------------------------------------------------------

    def _read_manifest(self) -> dict[str, Any]:
        if self._manifest_data is None:
            try:
                data = orjson.loads((self.root / MANIFEST).read_bytes())
            except (OSError, ValueError):
                data = {}
            self._manifest_data = data if isinstance(data, dict) else {}
        return self._manifest_data

    def _manifest_current(self, sources: dict[str, str], out: Path | None) -> bool:
        m = self._read_manifest()
        slots = self._slots.get(str(out)) if out is not None else None
        if out is not None and (slots is None or not slots[0].known
                                or not untouched(out, slots[0].known)):
            return False  # the snapshot is missing, refused or stale: write a new one
        return (m.get("compiler") == fingerprint() and m.get("sources") == sources
                and m.get("output") == (str(out) if out is not None else None)
                and m.get("unit_keys") == sorted(key for key, *_ in self._units))

    def output_stats(self, out: Path) -> Known:
        """The stat and sha256 of every output file under `out` as the last compile left
        it (empty when unknown: the tree is then read in full)."""
        return self._tree_snapshots(out)[0].known

    def _tree_snapshots(self, out: Path) -> tuple[_Slot, _Slot]:
        """The snapshots of the output tree `out` and of its standby. They are two slots,
        the newer the output's: exchanging the trees makes the output's snapshot the
        standby's by writing the new one over the older slot, not by copying it."""
        found = self._slots.get(str(out))
        if found is None:
            slots = []
            for n in ("0", "1"):
                key = _key("snapshot", (str(out), n))
                value, slot = self._get("snapshot", key), _Slot(key, -1, {})
                try:
                    if value is not None:
                        slot = _slot_in(key, value)
                except (TypeError, ValueError):
                    self._reject("snapshot", key)
                slots.append(slot)
            newer, older = sorted(slots, key=_GENERATION, reverse=True)
            found = self._slots[str(out)] = (newer, older)
        return found

    def standby(self, out: Path) -> Standby | None:
        """The second buffer of the output tree `out`, with what the last compile left in it
        (write.py keeps it up to date and exchanges it with `out`)."""
        if self.disabled:
            return None
        if self._prescan is not None and self._prescan[0] == out and self._prescan[1]:
            sb = self._prescan[1]
            if sb.lock is not None:  # held since it was walked: the walk is still true
                sb.scanned = self._prescan[2].walk(sb.path)
            return sb
        name = hashlib.sha256(str(out).encode()).hexdigest()[:16]
        return Standby(self.root / STANDBY_DIR / name, self._tree_snapshots(out)[1].known)

    def prescan(self) -> None:
        """Walk the last compile's output tree and its standby in a helper process while
        this compile runs (walk.Prescan); the standby is held for this compile meanwhile.
        Only for trees large enough to repay starting the helper, with a core to run it."""
        if (self._last_output is None or self.disabled or (os.cpu_count() or 1) < 2
                or self._last_output[1] < PRESCAN_MIN_FILES):
            return
        out = self._last_output[0]
        sb = self.standby(out)
        paths = [out]
        if sb is not None and sb.path.is_dir() and hold(out, sb):
            paths.append(sb.path)
        self._prescan = (out, sb, Prescan(paths))

    def scanned(self, out: Path) -> Scan | None:
        """The prescan's walk of `out`, if it walked that tree."""
        if self._prescan is None or self._prescan[0] != out:
            return None
        return self._prescan[2].walk(out)

    # --- the whole compile: nothing changed since the last one ------------------------------

    def replay(self, output: str | None) -> Replay | None:
        """The last compile's outcome for `output` (None: the workspace's spec.output), when
        the compiler, every file it read, the set of sources it would find, where the output
        directory resolves (a symlink may point elsewhere now) and the output tree are
        exactly as they were; otherwise None and the caller compiles."""
        key = self._build_key(output)
        value = self._get("build", key)
        try:
            inputs, index_sha, out, files, diags, waivers, lines = value
            if not (type(inputs) is dict and type(out) is str and type(files) is int
                    and type(index_sha) is str and type(waivers) is list
                    and set(map(type, chain(inputs, inputs.values(), lines))) <= {str}):
                raise TypeError("bad build entry")
            replay = Replay(out, files, [_diag_in(t) for t in diags], waivers, list(lines))
            self._last_output = (Path(out), files)
        except (TypeError, ValueError):
            if value is not None:
                self._reject("build", key)
            return None
        now = input_digests(self.root, output, inputs)
        self._discovered = now[2] if now is not None else None
        if now is None or now[:2] != (inputs, Path(out)):
            return None
        known = self.output_stats(Path(out))
        index = known.get(INDEX)
        if (index is None or index[1] != index_sha or len(known) != files
                or not untouched(Path(out), known)):
            return None  # the snapshot must list every file the compile wrote, as it is now
        self.stats.count("build", True)
        # in use, though not written again: pruning keeps records unused for a week
        for kind, used in (("build", key), *(("snapshot", s.key)
                                              for s in self._tree_snapshots(Path(out)))):
            with contextlib.suppress(OSError):
                os.utime(self._path(kind, used))
        return replay

    def discovered(self) -> Discovered | None:
        """What `replay` found and read of the workspace, once (for `load`)."""
        found, self._discovered = self._discovered, None
        return found

    def record(self, output: str | None, inputs: dict[str, str], replay: Replay) -> None:
        """Remember this compile's outcome for `replay`; `save` stores it when the output
        tree matches the compile."""
        rest = (replay.output, replay.files, [_diag_out(d) for d in replay.diagnostics],
                replay.waivers, replay.waiver_lines)
        self._record = (self._build_key(output), dict(sorted(inputs.items())), rest)

    def _build_key(self, output: str | None) -> str:
        # a copied workspace carries its .mentat/: the record of another tree is not ours
        return _key("build", (str(self.root.resolve()), output or ""))

    # --- end of compile --------------------------------------------------------------------

    def save(self, sources: dict[str, str], out: Path | None = None,
             files: Mapping[str, bytes] | None = None, *, written: bool = True,
             standby: Standby | None = None) -> None:
        """After a successful compile: store new entries and the manifest (with a stat
        snapshot of `files` as they now are under `out`; `written` says whether this
        compile changed the tree; `standby`, the second buffer write_tree used), and drop
        entries no longer used."""
        clean = self._checked is not None and bool(self._checked[2])
        if self.disabled:
            return
        try:
            made: set[str] = set()
            stored = 0
            if clean and self._checked is not None:
                for key, _, unit, hit in self._units:
                    value = None if hit else self._unit_out(unit)
                    if value is not None:  # written at once: holding them all doubled the RSS
                        # the unit's pack last: its lazy entries exist once it can be found
                        _direct_write(*self._entry("unittext", key, value[1]), made)
                        _direct_write(*self._entry("unitobj", key, value[2]), made)
                        self._put("unit", key, value[0])
                        stored += 1
                version, known, objects = self._checked
                fresh = {sha256_hex(t) for o in objects if type(o) is not _CachedObject
                         and (t := self._text(o)) is not None}
                if not fresh <= known:
                    # Keep older digests (an edit undone hits again), within a bound.
                    keep = known | fresh if len(known) < 4 * len(objects) + 1000 else fresh
                    self._put("checked", _key("checked", (version,)), sorted(keep))
            if self._record is not None and out is not None and files and INDEX in files:
                key, inputs, rest = self._record
                value = (inputs, sha256_hex(files[INDEX]), *rest)
                if self._get("build", key) != value:
                    self._put("build", key, value)
            if (not stored and not self._pending and not self._dirty and not written
                    and self._manifest_current(sources, out)):
                return  # nothing new to remember: a no-change compile writes nothing
            for (kind, key), blob in self._pending.items():
                _atomic_write(self._path(kind, key), blob, made)
            for kind, shard in sorted(self._dirty):  # keeping only what this compile used
                self._write_shard(kind, shard, None if self.guest else self._used.get(kind, set()),
                                  made)
            self._dirty.clear()
            # Pruning lists every shard: do it once enough new entries may have replaced old
            # ones, not after every small recompile.
            unpruned = self._read_manifest().get("unpruned", 0)
            unpruned = (unpruned if type(unpruned) is int else 0) + stored + len(self._pending)
            if not self.guest and unpruned > sum(len(u) for u in self._used.values()) // 4 + 64:
                self._prune()
                unpruned = 0
            self._pending.clear()
            self._manifest(sources, out, files or {}, unpruned, standby)
        except OSError:
            pass  # a cache that cannot be written only costs speed

    def _write_shard(self, kind: str, shard: int, keep: Container[str] | None,
                     made: set[str] | None = None) -> None:
        """Rewrite one shard of a packed kind with its entries in `keep` (None: all)."""
        live = {k: v for k, v in self._pack(kind).items()
                if _shard(kind, k) == shard and (keep is None or k in keep)}
        path, key = self._pack_path(kind, shard)
        _atomic_write(path, self._seal(key, live), made)

    def forget_lost(self) -> None:
        """After a `LostContent`: drop from the cache on disk, at once, every unit of this
        compile whose objects' bytes are lost (neither its YAML nor its dicts entry reads
        back). The compile that follows runs without the cache and saves nothing; the next
        one must rebuild those units, not lose them again one by one."""
        if self.disabled or not self._lost:
            return
        for key, _, _, hit in self._units:
            if hit and key not in self._lost and all(
                    self._read(self._path(lazy, key), key) is None
                    for lazy in ("unittext", "unitobj")):
                self._lost.add(key)
        with contextlib.suppress(OSError):
            for key in self._lost:
                self._reject("unit", key)
                for lazy in ("unittext", "unitobj"):
                    self._discard(self._path(lazy, key))
            for shard in sorted({_shard("unit", key) for key in self._lost}):
                self._write_shard("unit", shard, None)
        self._lost.clear()

    def _manifest(self, sources: dict[str, str], out: Path | None,
                  files: Mapping[str, bytes], unpruned: int, standby: Standby | None) -> None:
        if out is not None:
            current, older = self._tree_snapshots(out)
            if standby is not None and standby.written is not None:
                value = standby.written  # what the writer wrote or kept, as it left them
                # The tree the output held is the standby now: the output's slot, as it is,
                # holds its snapshot once the new one is written over the older slot. (Were
                # it stale, its stats would not match: nothing is kept on a snapshot's word.)
                slot = _Slot(older.key, current.generation + 1, value)
            else:
                tree = files_of(files)
                value = {rel: (st, tree.digest(rel)) for rel, st in snapshot(out, tree).items()}
                slot = _Slot(current.key, max(current.generation, 0), value)
            _atomic_write(*self._entry("snapshot", slot.key,
                                       (slot.generation, _known_out(slot.known))))
        manifest = {
            "compiler": fingerprint(),
            "sources": dict(sorted(sources.items())),
            "units": sorted((self._unit_record(key, deps, unit, hit)
                             for key, deps, unit, hit in self._units), key=lambda u: u["key"]),
            "unit_keys": sorted(key for key, *_ in self._units),
            "output": str(out) if out is not None else None,
            "unpruned": unpruned,  # entries written since the cache was last pruned
        }
        if manifest != self._read_manifest():
            _atomic_write(self.root / MANIFEST,
                          orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS
                                       | orjson.OPT_APPEND_NEWLINE))

    def _unit_record(self, key: str, deps: tuple[str, ...], unit: Unit,
                     hit: bool) -> dict[str, Any]:
        """A unit in the manifest: its sources and outputs (a key names both, so an entry
        of the last manifest with that key serves again)."""
        if hit:
            if self._manifest_units is None:
                units = self._read_manifest().get("units")
                self._manifest_units = {u.get("key"): u for u in units if type(u) is dict} \
                    if type(units) is list else {}
            old = self._manifest_units.get(key)
            if old is not None and old.keys() == {"key", "sources", "outputs"}:
                return old
        return {"key": key, "sources": sorted(deps),
                "outputs": sorted(object_path(o) for o in unit[0])}

    def _prune(self) -> None:
        """Delete the content-addressed entries this compile did not use, and what older
        compilers left: kinds no longer used, packs of other fingerprints, loose entries of
        kinds now packed. The records of other output directories (build, snapshot) stay
        until unused for a week: a compiler upgrade re-keys them all."""
        try:
            kinds = [e for e in os.scandir(self.dir) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for entry in kinds:
            kind = entry.name
            if kind in ("build", "snapshot"):
                self._prune_records(entry.path, self._used.get(kind, set()))
                continue
            if kind not in _KINDS:
                shutil.rmtree(entry.path, ignore_errors=True)
                continue
            if kind not in self._used:
                continue  # not looked up this time (no pricing, say): not known to be stale
            used = self._used[kind]
            current = {self._pack_path(kind, n)[0].name for n in range(_shards(kind))}
            for s in os.scandir(entry.path):
                if not s.is_dir(follow_symlinks=False):
                    if s.name not in current:  # the packs of other compilers, temp files
                        with contextlib.suppress(OSError):
                            os.unlink(s.path)
                elif kind in _PACKED:
                    shutil.rmtree(s.path, ignore_errors=True)
                else:
                    for name in os.listdir(s.path):
                        if s.name + name not in used:
                            with contextlib.suppress(OSError):
                                os.unlink(os.path.join(s.path, name))


    @staticmethod
    def _prune_records(path: str, used: set[str]) -> None:
        stale = time.time() - RECORDS_KEPT_S
        for shard in os.scandir(path):
            if not shard.is_dir(follow_symlinks=False):
                continue
            for e in os.scandir(shard.path):
                with contextlib.suppress(OSError):
                    if shard.name + e.name not in used and e.stat().st_mtime < stale:
                        os.unlink(e.path)


def _redirected(root: Path) -> bool:
    """Whether `.mentat/` or any directory inside its cache is a symlink (or not a plain
    directory): following one would read or delete files outside the workspace."""
    top = root / ".mentat"
    try:
        if os.path.islink(top) or os.path.islink(root / CACHE_DIR):
            return True
        stack = [root / CACHE_DIR]
        for depth in range(2):  # <kind>/<shard>/
            nxt = []
            for d in stack:
                try:
                    with os.scandir(d) as entries:
                        found = list(entries)
                except FileNotFoundError:
                    continue
                for e in found:
                    if e.is_symlink():
                        return True
                    if depth == 0 and e.is_dir(follow_symlinks=False):
                        nxt.append(Path(e.path))
            stack = nxt
    except OSError:
        return True
    return False


class _Slot(NamedTuple):
    """One of the two snapshot entries of an output tree (`Cache._tree_snapshots`)."""

    key: str
    generation: int  # -1: empty or refused
    known: Known


_GENERATION = attrgetter("generation")


def _slot_in(key: str, value: Any) -> _Slot:
    generation, columns = value
    if type(generation) is not int:
        raise TypeError("bad snapshot entry")
    return _Slot(key, generation, _known_in(columns))


def _known_out(known: Known) -> tuple[str, str, bytes]:
    """A snapshot as three blobs: its paths and its digests, each joined by NULs, and its
    stats as 64-bit ints. Marshal reads three objects instead of 60k at 10k files."""
    values = known.values()
    stats = array("q", chain.from_iterable(map(itemgetter(0), values)))
    return "\0".join(known), "\0".join(map(itemgetter(1), values)), stats.tobytes()


def _known_in(value: Any) -> Known:
    paths, digests, stats = value
    if not (type(paths) is type(digests) is str and type(stats) is bytes):
        raise TypeError("bad snapshot entry")
    if not paths:
        if digests or stats:
            raise ValueError("bad snapshot entry")
        return {}
    path_list, digest_list = paths.split("\0"), digests.split("\0")
    if not len(path_list) == len(digest_list) == len(stats) // 32 or len(stats) % 32:
        raise ValueError("bad snapshot entry")
    flat = iter(array("q", stats))
    stat_tuples = zip(flat, flat, flat, flat, strict=True)  # one iterator: in fours
    return dict(zip(path_list, zip(stat_tuples, digest_list, strict=True), strict=True))


def _bytes_in(value: Any) -> bytes:
    if type(value) is not bytes:
        raise TypeError("bad yaml entry")
    return value


def _shards(kind: str) -> int:
    """Files per packed kind: more cost more to read than they save in writing, except for
    unit entries (4.5 MB at 10k objects, a few of which change in a one-flow edit)."""
    return 16 if kind == "unit" else 4


def _shard(kind: str, key: str) -> int:
    return int(key[0], 16) % _shards(kind)


def _mac(key: bytes, payload: bytes | memoryview) -> bytes:
    return hmac.digest(key, payload, "sha256")


def _atomic_write(path: str | Path, blob: bytes, made: set[str] | None = None) -> None:
    """Write `blob` to `path` through a temporary file renamed into place, so a reader sees
    the old entry, none or the new one, never part of one; `made` remembers directories
    known to exist."""
    parent, name = os.path.split(path)
    _parent(parent, made)
    tmp = os.path.join(parent, f".{name}.{os.getpid()}-{secrets.token_hex(4)}")
    with open(tmp, "wb") as f:
        f.write(blob)
    # Renamed over nothing: ext4 flushes a file renamed over another (auto_da_alloc), 0.4
    # ms each here, a durability the cache does not need. A reader in between sees no
    # entry, which only costs it speed.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.rename(tmp, path)


def _direct_write(path: str, blob: bytes, made: set[str] | None = None) -> None:
    """Write a content-addressed entry in place, without the rename: a torn or interleaved
    write fails its digest and is discarded when read, and every writer of a key writes the
    same bytes. Filling the cache at 10k writes ~1,700 of them."""
    _parent(os.path.dirname(path), made)
    with open(path, "wb") as f:
        f.write(blob)


def _parent(directory: str, made: set[str] | None) -> None:
    if made is None or directory not in made:
        os.makedirs(directory, exist_ok=True)
        if made is not None:
            made.add(directory)


def _docs_out(docs: list[RawDoc], diags: list[Diagnostic]) -> Any:
    return (
        [(d.index, d.data, {p: tuple(v) for p, v in d.positions.items()},
          {p: tuple(v) for p, v in d.key_positions.items()}) for d in docs],
        [_diag_out(x) for x in diags],
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
    return docs, [_diag_in(t) for t in raw_diags]




def _rows_ok(rows: list[Any]) -> bool:
    """Object rows of unit entries of the right shape, checked in C (map, set, zip)."""
    if not rows:
        return True
    if set(map(type, rows)) != {tuple} or set(map(len, rows)) != {_ROW_FIELDS}:
        return False
    d, kind, name, sources, origin, group, size, digest, ddigest, waives = zip(*rows, strict=True)
    if (not set(map(type, chain(d, kind, name, group, digest, ddigest))) <= {str}
            or set(map(type, size)) != {int} or set(map(type, waives)) != {bool}
            or set(map(type, sources)) != {tuple}
            or not set(map(type, chain.from_iterable(sources))) <= {str}
            or set(map(type, origin)) != {tuple} or set(map(len, origin)) != {3}):
        return False
    files, lines, cols = zip(*origin, strict=True)
    return set(map(type, files)) <= {str} and set(map(type, chain(lines, cols))) <= {int}


class _Blobs:
    """A cached unit's lazily read entries (its objects' YAML, `unittext`, and their
    marshalled dicts, `unitobj`) and what was made of them."""

    __slots__ = ("_cache", "_entries", "_key", "texts", "values")

    def __init__(self, cache: Cache, key: str) -> None:
        self._cache, self._key = cache, key
        self._entries: dict[str, list[Any]] = {}
        self.texts: dict[int, bytes] = {}
        self.values: dict[int, dict[str, Any]] = {}

    def get(self, kind: str, index: int) -> bytes | None:
        blobs = self._entries.get(kind)
        if blobs is None:
            value = self._cache._get(kind, self._key)
            if value is not None and type(value) is not list:
                self._cache._reject(kind, self._key)
            blobs = self._entries[kind] = value if type(value) is list else []
        blob = blobs[index] if index < len(blobs) else None
        return blob if type(blob) is bytes else None

    def lost(self, what: str) -> LostContent:
        """Neither entry has an object's bytes: the unit goes (`Cache.forget_lost`)."""
        self._cache._lost.add(self._key)
        return LostContent(what)


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
    index: int  # in its unit


_ROW_FIELDS = len(_Row._fields) - 2  # stored in a unit entry: all but blobs and index


class _CachedObject(_Row):
    """A rendered object from the cache, standing in for a `K8sObject`: a tuple (built in C),
    whose YAML and dict are read only when first needed. A compile that changes one flow
    needs only the kind, name, size and digest of the others (it is `Deferred` for layout)."""

    __slots__ = ()

    def content(self) -> bytes:
        """Its YAML: from the unittext entry, else dumped again from its dict; either way
        only bytes with the recorded digest (LostContent when neither has them)."""
        blobs, i = self.blobs, self.index
        text = blobs.texts.get(i)
        if text is None:
            text = blobs.get("unittext", i)
            if text is None or len(text) != self.size or sha256_hex(text) != self.digest:
                value = self._dict()
                text = dump_yaml(value) if value is not None else None
                if text is None or sha256_hex(text) != self.digest:
                    raise blobs.lost(f"{self.dir}/{self.kind} {self.name}")
            blobs.texts[i] = text
        return text

    def _dict(self) -> dict[str, Any] | None:
        blobs, i = self.blobs, self.index
        value = blobs.values.get(i)
        if value is None:
            blob = blobs.get("unitobj", i)
            try:
                loaded = marshal.loads(blob) if blob is not None else None
            except (EOFError, ValueError, TypeError):
                loaded = None
            # the dict its unit recorded, as its YAML is (else the YAML, checked, serves)
            if isinstance(loaded, dict) and data_digest(loaded) == self.data_digest:
                value = blobs.values[i] = loaded
        return value

    @property
    def obj(self) -> dict[str, Any]:
        value = self._dict()
        if value is None:
            # Only a lost or forged entry gets here: the YAML loads back to an equal dict.
            import yaml

            value = yaml.load(self.content(), Loader=getattr(yaml, "CSafeLoader",
                                                            yaml.SafeLoader))
            if not isinstance(value, dict):
                raise self.blobs.lost(f"{self.dir}/{self.kind} {self.name}")
            self.blobs.values[self.index] = value
        return value


def data_digest(data: Any) -> str:
    """Of an object's content (key order aside): the policy memo's key part for it."""
    # hashlib, not sha256_hex: that memo keeps the bytes it hashed alive (it is for output
    # files, hashed several times), and these are throwaway (77 MB held at 10k objects)
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _outcomes_ok(value: Any) -> bool:
    """Remembered outcomes of a group: (rule, index in the group, status, message) tuples,
    checked in C (a 10k-object compile reads ~600 groups of them)."""
    if type(value) is not list or not value:
        return type(value) is list
    if set(map(type, value)) != {tuple} or set(map(len, value)) != {4}:
        return False
    rules, members, statuses, messages = zip(*value, strict=True)
    return (set(map(type, chain(rules, statuses, messages))) == {str}
            and set(map(type, members)) == {int})


_WAIVES, _DATA_DIGEST = attrgetter("waives"), attrgetter("data_digest")
_RULE, _STATUS = itemgetter(0), itemgetter(2)  # of a remembered outcome


class PolicyMemo:
    """Policy outcomes per sibling group (rendered objects of a flow in one environment ×
    region, the same unit render caches; or the documents of one source file), keyed by the
    rules, the workspace spec and the group's content: an unchanged flow is not evaluated
    again."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        # (the object itself, its digest): ids of freed objects get reused
        self._rules: tuple[Any, str] | None = None
        self._workspace: tuple[Any, str] | None = None

    def _rules_digest(self, rules: Any) -> str:
        if self._rules is None or self._rules[0] is not rules:
            text = repr([(r.id, r.severity, r.kinds, r.labels, r.expression, r.message,
                          r.message_expression, r.variables) for r in rules])
            self._rules = (rules, hashlib.sha256(text.encode()).hexdigest())
        return self._rules[1]

    def _workspace_digest(self, workspace: Any) -> str:
        if self._workspace is None or self._workspace[0] is not workspace:
            self._workspace = (workspace, data_digest(workspace))
        return self._workspace[1]

    def known(self, o: K8sObject) -> tuple[str, bool] | None:
        """For an object from the cache: the digest of its dict and whether it carries a
        waiver annotation, both known without unpacking the dict."""
        if type(o) is not _CachedObject:
            return None
        return o.data_digest, o.waives

    def key(self, rules: Any, workspace: Any, group: Any) -> str | None:
        try:
            return self._group_key(rules, workspace,
                                   [s.digest or data_digest(s.data) for s in group])
        except TypeError:  # data orjson cannot encode: evaluate, do not remember
            return None

    def _group_key(self, rules: Any, workspace: Any, digests: list[str]) -> str:
        return _key("policy", [self._rules_digest(rules), self._workspace_digest(workspace),
                               *digests])

    def passes(self, rules: Any, workspace: Any, objects: list[K8sObject]) -> dict[str, int] | None:
        """Passes by rule, when every one of `objects` comes from the cache and carries no
        waiver, and the outcomes remembered for them as a group are all passes (the same
        entry `key` names for their subjects); otherwise None, and they are evaluated."""
        # checked and counted in C: ~600 groups of ~17 objects and ~40 outcomes each at 10k
        if set(map(type, objects)) != {_CachedObject} or any(map(_WAIVES, objects)):
            return None
        digests = list(map(_DATA_DIGEST, objects))
        key = self._group_key(rules, workspace, digests)
        value = self._cache._get("policy", key)
        if not _outcomes_ok(value):
            if value is not None:
                self._cache._reject("policy", key)
            return None
        if not set(map(_STATUS, value)) <= {"pass"}:
            return None  # a violation: evaluated (and reported) through `get`
        self._cache.stats.count("policy", True)
        return Counter(map(_RULE, value))

    def get(self, key: str) -> list[tuple[str, int, str, str]] | None:
        value = self._cache._get("policy", key)
        ok = _outcomes_ok(value)
        if value is not None and not ok:
            self._cache._reject("policy", key)
        self._cache.stats.count("policy", ok)
        return value if ok else None

    def put(self, key: str, outcomes: list[tuple[str, int, str, str]]) -> None:
        self._cache._put("policy", key, outcomes)
