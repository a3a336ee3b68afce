"""Versions and the version ranges of agent references (npm syntax: `^1.2`, `~1.2.0`,
`>=1.0 <2`), parsed and matched once per distinct text: a large workspace repeats a few
versions and ranges thousands of times, and semantic_version parses one in ~10-25 µs."""

from __future__ import annotations

from functools import lru_cache

import semantic_version

__all__ = ["in_range", "parse_version", "version_range"]


@lru_cache(maxsize=4096)
def parse_version(text: str) -> semantic_version.Version:
    """The version (ValueError when `text` is not one); the same value for the same text
    (link compares, sorts and indexes them: none is changed once made)."""
    return semantic_version.Version(text)


@lru_cache(maxsize=4096)
def version_range(text: str) -> semantic_version.NpmSpec | None:
    """The parsed range, or None when `text` is not a valid range."""
    try:
        return semantic_version.NpmSpec(text)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def in_range(version: semantic_version.Version, text: str) -> bool:
    spec = version_range(text)
    return spec is not None and version in spec
