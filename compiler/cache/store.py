"""The sealed store under `<workspace>/.mentat/cache/`: entries keyed by content, authenticated
by an HMAC whose key lives outside every workspace, some kinds packed into shards, and pruning.

Entries are `marshal` data (plain dicts, lists, tuples, str, bytes, int) behind a magic
header and an HMAC-SHA256 of the payload. The kinds with many small entries (`PACKED`) are
kept as a few shards per kind, read at once; a shard is rewritten with only what the compile
used (creating thousands of small files cost more than the compile's own work on a cold
10k-object workspace). A truncated, corrupted, foreign or forged entry fails the HMAC or the
shape check of its reader and is a miss (and is deleted), never trusted. `marshal` executes
nothing while loading (unlike pickle), is what CPython itself trusts for `.pyc` caches, and
loads ~10x faster than JSON for this data; the HMAC is checked before it sees any byte.

The key (`key_path`: the user's config directory, made on first use, 0600, refused when
anyone else could read or write it) is out of reach of whoever can write `.mentat/` (a
committed directory, a restored CI cache, a shared runner). Without a usable key the store is
disabled: nothing is read or written and every compile is cold.
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
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

from compiler import __version__
from compiler.cache import held
from compiler.diagnostics import Diagnostic, Severity
from compiler.resources import policies_dir, schemas_dir

__all__ = ["CACHE_DIR", "KEY_ENV", "PACKED", "Stats", "Store", "diag_in", "diag_out",
           "fingerprint", "key", "key_path"]

T = TypeVar("T")
CACHE_DIR = ".mentat/cache"
RECORDS_KEPT_S = 7 * 24 * 3600  # unused build and snapshot records, then pruned
_FORMAT = 4  # bump when an entry's layout changes
_MAGIC = b"MENTATC2"  # C2: entries authenticated by HMAC-SHA256 (C1: an unkeyed sha256)
KEY_ENV = "MENTAT_CACHE_KEY_FILE"  # where the cache's key lives, instead of key_path()
_KEY_BYTES = 32
_CODE = (".py", ".json", ".yaml", ".yml", ".cel")
# many small entries: a few files per kind
PACKED = frozenset({"parse", "policy", "memo", "yaml", "schema", "unit"})
_KINDS = PACKED | {"unittext", "unitobj", "checked", "snapshot", "build"}
_RECORDS = ("build", "snapshot")  # per output directory, pruned by age (not content-keyed)
_LIBS = ("yaml", "_yaml", "jsonschema_rs", "kubernetes_validate", "jsonschema",
         "cel_expr_python.cel", "wasmtime", "orjson", "semantic_version")


@cache
def fingerprint() -> str:
    """The compiler's identity for cache keys: version, its own code and schemas, the
    libraries whose behaviour shapes the output, and the Python (marshal) version."""
    h = hashlib.sha256(f"{_FORMAT}|{__version__}|{sys.version_info[:2]}".encode())
    pkg = Path(__file__).resolve().parent.parent
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


def key(kind: str, parts: Iterable[str]) -> str:
    """An entry's key: its kind, the compiler's fingerprint and every input its value
    depends on (a stale entry is never looked up rather than invalidated)."""
    h = hashlib.sha256(f"{kind}\0{fingerprint()}".encode())
    parts = list(parts)
    if parts:  # each part after a NUL, hashed at once (policy keys have a part per object)
        h.update(("\0" + "\0".join(parts)).encode())
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
def auth_key(path: Path) -> bytes | None:
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
            found = os.read(fd, _KEY_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
        if (not stat.S_ISREG(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077
                or len(found) != _KEY_BYTES):
            return None
        return found
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


def seal(auth: bytes, entry_key: str, value: Any) -> bytes:
    """An entry: magic, the HMAC of the payload, then the payload naming its own key."""
    payload = marshal.dumps((entry_key, value), 4)
    return _MAGIC + hmac.digest(auth, payload, "sha256") + payload


def diag_out(d: Diagnostic) -> tuple[Any, ...]:
    return (d.code, d.message, d.file, d.line, d.col, str(d.severity), d.hint)


def diag_in(t: Any) -> Diagnostic:
    code, message, file, line, col, severity, hint = t
    return Diagnostic(code, message, file, line, col, Severity(severity), hint)


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


class Store:
    """One compile's view of the sealed entries: `get` and `put` during the compile, `flush`
    once it has succeeded. `shared`: a tree compiled with another workspace's store (as
    `diff` does) adds entries and drops none: that workspace's own compiles decide what is
    stale."""

    def __init__(self, root: Path, shared: Path | None = None) -> None:
        self.root = root
        self.dir = (shared or root) / CACHE_DIR
        self.guest = shared is not None
        self._dir = str(self.dir)
        self.stats = Stats()
        self._pending: dict[tuple[str, str], bytes] = {}
        self._decoded: dict[tuple[str, str], Any] = {}  # pending entries' `put(decoded=)`
        self._used: dict[str, set[str]] = {}
        self._packs: dict[str, dict[str, Any]] = {}  # kind -> key -> value (PACKED kinds)
        self._shards: dict[str, list[tuple[Path, dict[str, Any]]]] = {}  # kind -> as read
        self._dirty: set[tuple[str, int]] = set()  # pack shards with new or rejected entries
        self._lock = threading.Lock()
        # A repository can commit `.mentat/` as symlinks to elsewhere (CI runners, Argo CD
        # repo servers compile untrusted trees): then the store is neither read nor written.
        # The key must be out of reach of whoever writes the workspace: never inside it (nor
        # inside the tree compiled with its store).
        path = key_path()
        real = path.resolve()
        inside = any(w.resolve() in (real, *real.parents) for w in {root, shared or root})
        redirected = _redirected(shared or root)
        self._auth = None if redirected or inside else auth_key(path)
        self.disabled = self._auth is None

    key = staticmethod(key)

    # --- lookups ---------------------------------------------------------------------------

    def path(self, kind: str, entry_key: str) -> str:
        # a string, not a Path: units are read by the hundred
        return os.path.join(self._dir, kind, entry_key[:2], entry_key[2:])

    def get(self, kind: str, entry_key: str) -> Any:
        """The value stored under the key, or None (absent, or failing its HMAC)."""
        self._used.setdefault(kind, set()).add(entry_key)
        if self.disabled:
            return None
        if kind in PACKED:
            return self._pack(kind).get(entry_key)
        return self._read(self.path(kind, entry_key), entry_key)

    def decoded(self, kind: str, entry_key: str, decode: Callable[[Any], T]) -> T | None:
        """`decode` of the value stored under the key (of a kind not packed), or None
        (absent, or failing its HMAC); what `decode` raises is the caller's, who rejects the
        entry. Held while the entry's file is unchanged (`held`), as is what
        `put(..., decoded=)` wrote."""
        self._used.setdefault(kind, set()).add(entry_key)
        if self.disabled:
            return None
        path = self.path(kind, entry_key)

        def load() -> T | None:
            value = self._read(path, entry_key)
            return decode(value) if value is not None else None

        return held.through(path, load)

    def mark_used(self, kind: str, entry_key: str) -> None:
        """An entry read later or not at all, to keep when the store is pruned."""
        self._used.setdefault(kind, set()).add(entry_key)

    def reject(self, kind: str, entry_key: str) -> None:
        """An entry that passed its HMAC but not the shape check of its reader: a miss."""
        if kind in PACKED:
            self.stats.reject()
            self._pack(kind).pop(entry_key, None)
            self._dirty.add((kind, _shard(kind, entry_key)))
        else:
            self._discard(self.path(kind, entry_key))

    def touch(self, kind: str, entry_key: str) -> None:
        """A record in use though not written again (pruning keeps those used in a week)."""
        path = self.path(kind, entry_key)
        with contextlib.suppress(OSError):
            os.utime(path)
            held.touched(path)

    def _read(self, path: str | Path, entry_key: str) -> Any:
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except OSError:
            return None
        head = len(_MAGIC) + 32
        if (len(blob) < head or blob[: len(_MAGIC)] != _MAGIC or self._auth is None
                or not hmac.compare_digest(hmac.digest(self._auth, memoryview(blob)[head:],
                                                       "sha256"), blob[len(_MAGIC):head])):
            self._discard(path)  # corrupt, foreign, or sealed without our key: forged
            return None
        try:
            value = marshal.loads(blob[head:])
        except (EOFError, ValueError, TypeError):
            self._discard(path)
            return None
        if not (isinstance(value, tuple) and len(value) == 2 and value[0] == entry_key):
            self._discard(path)  # an entry copied under another key, or of another format
            return None
        return value[1]

    def _pack(self, kind: str) -> dict[str, Any]:
        """All entries of a packed kind, read (and verified) at once from its shards."""
        pack = self._packs.get(kind)
        if pack is not None:
            return pack
        with self._lock:  # the policy phases read theirs from threads
            pack = self._packs.get(kind)
            if pack is not None:
                return pack
            pack, shards = {}, []
            for shard in range(_shards(kind)):
                path, pack_key = self._pack_path(kind, shard)
                entries = held.through(path, partial(self._read_shard, path, pack_key))
                assert entries is not None  # a shard reads as a dict, empty if need be
                pack.update(entries)
                shards.append((path, entries))
            self._packs[kind], self._shards[kind] = pack, shards
        return pack

    def _read_shard(self, path: Path, pack_key: str) -> dict[str, Any]:
        value = self._read(path, pack_key)  # a shard with no entries has no file
        if value is not None and type(value) is not dict:
            self._discard(path)
            value = None
        return value or {}

    def sound(self, kind: str, check: Callable[[dict[str, Any]], set[str]]) -> set[str]:
        """The keys of the entries of a packed kind that `check`, given a shard's entries,
        finds of the right shape: for readers that check them all at once. A held shard is
        checked once."""
        if self.disabled:
            return set()
        self._pack(kind)
        keys: set[str] = set()
        for path, entries in self._shards[kind]:
            found = held.sound(path, entries)
            if found is None:
                found = check(entries)
                held.checked(path, entries, found)
            keys |= found
        return keys

    def _pack_path(self, kind: str, shard: int) -> tuple[Path, str]:
        pack_key = key("pack", (kind, str(shard)))
        return self.dir / kind / f"{pack_key}.pack", pack_key

    def _discard(self, path: str | Path) -> None:
        self.stats.reject()
        with contextlib.suppress(OSError):
            os.unlink(path)

    # --- writes ----------------------------------------------------------------------------

    def put(self, kind: str, entry_key: str, value: Any, decoded: Any = None) -> None:
        """Store a value; written by `flush` (packed kinds by their shard). `decoded`: what
        `decoded()` makes of it, held once written (`held`)."""
        self._used.setdefault(kind, set()).add(entry_key)
        if self.disabled:  # nothing is stored, so nothing needs sealing
            return
        if kind in PACKED:
            self._pack(kind)[entry_key] = value
            self._dirty.add((kind, _shard(kind, entry_key)))
            return
        self._pending[(kind, entry_key)] = self._seal(entry_key, value)
        if decoded is not None:
            self._decoded[(kind, entry_key)] = decoded

    def write_now(self, kind: str, entry_key: str, value: Any, made: set[str]) -> None:
        """Write a content-addressed entry at once (holding a compile's worth of them doubled
        the RSS), in place: a torn write fails its HMAC and is a miss when read, and every
        writer of a key writes the same bytes. Filling the cache at 10k writes ~1,700."""
        self._used.setdefault(kind, set()).add(entry_key)
        if self.disabled:
            return
        path = self.path(kind, entry_key)
        _parent(os.path.dirname(path), made)
        with open(path, "wb") as f:
            f.write(self._seal(entry_key, value))

    def discard(self, kind: str, entry_key: str) -> None:
        self._discard(self.path(kind, entry_key))

    @property
    def changed(self) -> bool:
        """Whether `flush` has anything to write."""
        return bool(self._pending or self._dirty)

    def flush(self, made: set[str], unpruned: int) -> int:
        """Write what the compile stored and, once enough new entries may have replaced old
        ones, prune what it did not use. Returns the entries written since the last prune."""
        for (kind, entry_key), blob in self._pending.items():
            path = self.path(kind, entry_key)
            atomic_write(path, blob, made)
            decoded = self._decoded.get((kind, entry_key))
            if decoded is not None:
                held.wrote(path, decoded)
        self._decoded.clear()
        for kind, shard in sorted(self._dirty):  # keeping only what this compile used
            self.write_shard(kind, shard, None if self.guest else self._used.get(kind, set()),
                             made)
        self._dirty.clear()
        unpruned += len(self._pending)
        self._pending.clear()
        # Pruning lists every shard: only once enough new entries may have replaced old ones.
        if not self.guest and unpruned > sum(len(u) for u in self._used.values()) // 4 + 64:
            self._prune()
            unpruned = 0
        return unpruned

    def write_shard(self, kind: str, shard: int, keep: Container[str] | None,
                    made: set[str] | None = None) -> None:
        """Rewrite one shard of a packed kind with its entries in `keep` (None: all)."""
        live = {k: v for k, v in self._pack(kind).items()
                if _shard(kind, k) == shard and (keep is None or k in keep)}
        path, pack_key = self._pack_path(kind, shard)
        atomic_write(path, self._seal(pack_key, live), made)
        held.wrote(path, live)

    def _seal(self, entry_key: str, value: Any) -> bytes:
        assert self._auth is not None  # a disabled store writes nothing
        return seal(self._auth, entry_key, value)

    def _prune(self) -> None:
        """Delete the content-addressed entries this compile did not use, and what older
        compilers left: kinds no longer used, packs of other fingerprints, loose entries of
        kinds now packed. The records of output directories (build, snapshot) stay until
        unused for a week: a compiler upgrade re-keys them all."""
        try:
            kinds = [e for e in os.scandir(self.dir) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for entry in kinds:
            kind = entry.name
            if kind in _RECORDS:
                _prune_records(entry.path, self._used.get(kind, set()))
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
                elif kind in PACKED:
                    shutil.rmtree(s.path, ignore_errors=True)
                else:
                    for name in os.listdir(s.path):
                        if s.name + name not in used:
                            with contextlib.suppress(OSError):
                                os.unlink(os.path.join(s.path, name))


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


def _shards(kind: str) -> int:
    """Files per packed kind: more cost more to read than they save in writing, except for
    unit entries (4.5 MB at 10k objects, a few of which change in a one-flow edit)."""
    return 16 if kind == "unit" else 4


def _shard(kind: str, entry_key: str) -> int:
    return int(entry_key[0], 16) % _shards(kind)


def atomic_write(path: str | Path, blob: bytes, made: set[str] | None = None) -> None:
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


def _parent(directory: str, made: set[str] | None) -> None:
    if made is None or directory not in made:
        os.makedirs(directory, exist_ok=True)
        if made is not None:
            made.add(directory)
