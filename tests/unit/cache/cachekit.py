"""What the cache tests share."""

from __future__ import annotations

from compiler.cache import _MAGIC, _auth_key, _mac, key_path


def sealed(payload: bytes) -> bytes:
    """An entry sealed with this user's key around `payload`: only the shape check can
    refuse it (what a forger without the key cannot make)."""
    key = _auth_key(key_path())
    assert key is not None
    return _MAGIC + _mac(key, payload) + payload
