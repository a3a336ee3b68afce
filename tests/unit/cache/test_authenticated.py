"""Cache entries are authenticated with a key kept outside the workspace: whoever can write
`.mentat/` (a committed directory, a restored CI cache) cannot seal an entry, so an edited
output tree cannot be made to pass `compile --check` by re-sealing the cache (issue 15)."""

from __future__ import annotations

import hashlib
import hmac
import marshal
import os
import stat
from array import array
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from compiler.cache import CACHE_DIR, KEY_ENV, Cache
from compiler.cache.store import _MAGIC, auth_key, key_path
from compiler.cli import main
from compiler.digest import sha256_hex
from compiler.write.walk import stat_key
from tests.unit.write.treekit import tree_of

VICTIM = "prod/us-east-1/deployment-live-captions-ingest.yaml"


@pytest.fixture
def ws(example_ws: Path) -> Path:
    return example_ws


def _compile(ws: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["compile", str(ws), *args])


def _escalate(ws: Path) -> None:
    """What the attacker wants deployed."""
    victim = ws / "rendered" / VICTIM
    text = victim.read_text()
    assert "allowPrivilegeEscalation: false" in text
    victim.write_text(text.replace("allowPrivilegeEscalation: false",
                                   "allowPrivilegeEscalation: true"))


def _forge_snapshots(ws: Path, seal: Callable[[bytes], bytes]) -> int:
    """Make every snapshot entry vouch for the edited file as it is now, sealed by `seal`."""
    victim = ws / "rendered" / VICTIM
    now, digest = stat_key(victim.stat()), sha256_hex(victim.read_bytes())
    forged = 0
    for entry in sorted(p for p in (ws / CACHE_DIR / "snapshot").rglob("*") if p.is_file()):
        key, (generation, (paths, digests, stats)) = marshal.loads(entry.read_bytes()[40:])
        names = paths.split("\0")
        if VICTIM not in names:
            continue
        i = names.index(VICTIM)
        digest_list = digests.split("\0")
        digest_list[i] = digest
        ints = array("q", stats)
        ints[4 * i:4 * i + 4] = array("q", now)
        payload = marshal.dumps((key, (generation, (paths, "\0".join(digest_list),
                                                    ints.tobytes()))), 4)
        entry.write_bytes(_MAGIC + seal(payload) + payload)
        forged += 1
    return forged


def _own_key(payload: bytes) -> bytes:
    key = auth_key(key_path())
    assert key is not None
    return hmac.digest(key, payload, "sha256")


FORGERS: dict[str, Callable[[bytes], bytes]] = {
    "an unkeyed sha256 (the old seal)": lambda p: hashlib.sha256(p).digest(),
    "another key": lambda p: hmac.digest(b"k" * 32, p, "sha256"),
    "an empty key": lambda p: hmac.digest(b"", p, "sha256"),
}


def test_a_forgery_with_the_real_key_would_pass(ws: Path) -> None:
    """The control: the attack works when the seal is right, so only the key stops it."""
    assert _compile(ws).exit_code == 0
    _escalate(ws)
    assert _forge_snapshots(ws, _own_key)
    assert _compile(ws, "--check").exit_code == 0  # what issue 15 saw with the unkeyed seal


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_an_entry_sealed_without_the_key_is_refused(ws: Path, forger: str) -> None:
    assert _compile(ws).exit_code == 0
    cold = tree_of(ws / "rendered")
    _escalate(ws)
    assert _forge_snapshots(ws, FORGERS[forger])
    check = _compile(ws, "--check")
    assert check.exit_code == 1 and "M700" in check.stderr and VICTIM in check.stderr
    assert _compile(ws).exit_code == 0
    assert tree_of(ws / "rendered") == cold  # the escalation is gone


def test_every_kind_of_entry_resealed_without_the_key_is_refused(ws: Path) -> None:
    assert _compile(ws).exit_code == 0
    cold = tree_of(ws / "rendered")
    entries = [p for p in (ws / CACHE_DIR).rglob("*") if p.is_file()]
    assert len({p.relative_to(ws / CACHE_DIR).parts[0] for p in entries}) >= 6
    for entry in entries:
        payload = entry.read_bytes()[40:]
        entry.write_bytes(_MAGIC + hashlib.sha256(payload).digest() + payload)
    cache = Cache(ws)
    assert cache.replay(None) is None and cache.stats.rejected == 1  # the build record
    assert cache.outputs.known(ws / "rendered") == {}  # snapshots refused too
    assert _compile(ws).exit_code == 0 and tree_of(ws / "rendered") == cold
    assert not [p for p in entries if p.exists() and hashlib.sha256(
        p.read_bytes()[40:]).digest() == p.read_bytes()[8:40]]  # each refused and replaced


def test_the_key_is_made_once_0600_outside_the_workspace(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config" / "mentatctl" / "cache.key"
    monkeypatch.setenv(KEY_ENV, str(path))
    key = auth_key(path)
    assert key is not None and len(key) == 32 and path.read_bytes() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p != path]  # no temporary file left
    auth_key.cache_clear()
    assert auth_key(path) == key  # read back, not made again


@pytest.mark.parametrize("spoil", ["group-readable", "world-writable", "symlink", "short",
                                   "directory"])
def test_a_key_others_could_read_or_write_disables_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ws: Path, spoil: str) -> None:
    path = tmp_path / "k" / "cache.key"
    path.parent.mkdir()
    if spoil == "directory":
        path.mkdir()
    elif spoil == "symlink":
        real = tmp_path / "real.key"
        real.write_bytes(os.urandom(32))
        real.chmod(0o600)
        path.symlink_to(real)
    else:
        path.write_bytes(os.urandom(16 if spoil == "short" else 32))
        path.chmod({"group-readable": 0o640, "world-writable": 0o602, "short": 0o600}[spoil])
    monkeypatch.setenv(KEY_ENV, str(path))
    auth_key.cache_clear()
    assert Cache(ws).disabled
    assert _compile(ws).exit_code == 0  # a compile without a cache, not a failure
    assert not (ws / CACHE_DIR).exists() or not any((ws / CACHE_DIR).rglob("*.pack"))


def test_a_key_inside_the_workspace_disables_the_cache(ws: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, str(ws / ".mentat" / "cache.key"))
    assert Cache(ws).disabled
