"""What the cache tests share."""

from __future__ import annotations

import hashlib

from compiler.cache import _MAGIC


def sealed(payload: bytes) -> bytes:
    """An entry with a valid digest around `payload`: only the shape check can refuse it."""
    return _MAGIC + hashlib.sha256(payload).digest() + payload
