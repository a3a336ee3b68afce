"""sha256 of output files, computed once per compile however many steps ask.

layout (for index.json), the tree diff and the incremental cache each need the digest of
every output file; at 10k files hashing three times cost ~60 ms. The memo is keyed by the
identity of the bytes object (checked, so a recycled id never answers) and bounded.
"""

from __future__ import annotations

import hashlib

__all__ = ["forget", "sha256_hex"]

_MAX = 200_000
_memo: dict[int, tuple[bytes, str]] = {}


def sha256_hex(content: bytes) -> str:
    hit = _memo.get(id(content))
    if hit is not None and hit[0] is content:
        return hit[1]
    digest = hashlib.sha256(content).hexdigest()
    if len(_memo) >= _MAX:
        _memo.clear()
    _memo[id(content)] = (content, digest)
    return digest


def forget() -> None:
    """Drop the memo: it holds every output file's bytes, which a long-running process
    (`compile --watch`) must not keep from one compile to the next."""
    _memo.clear()
