"""What the cache tests share."""

from __future__ import annotations

import hmac

from compiler.cache.store import _MAGIC, auth_key, key_path


def sealed(payload: bytes) -> bytes:
    """An entry sealed with this user's key around `payload`: only the shape check can
    refuse it (what a forger without the key cannot make)."""
    key = auth_key(key_path())
    assert key is not None
    return _MAGIC + hmac.digest(key, payload, "sha256") + payload
