"""What a diff must never show: Secret data and the names of secrets a workload reads.

Every sensitive value becomes `***`; on the head side of a changed object a value that differs
from the base becomes `*** (changed)`, so the unified diff shows that it changed and nothing
of either value. Objects without the word "secret" in their YAML are shown as they are.
"""

from __future__ import annotations

from typing import Any

import yaml

from compiler.render import yamlout

__all__ = ["CHANGED", "MASK", "masked_text"]

MASK = "***"
CHANGED = "*** (changed)"
_MISSING = object()


def _sensitive(path: tuple[Any, ...], secret_kind: bool) -> bool:
    if secret_kind and len(path) == 2 and path[0] in ("data", "stringData"):
        return True
    if len(path) >= 2 and path[-2] == "secretKeyRef" and path[-1] in ("name", "key"):
        return True
    if len(path) >= 2 and path[-2] == "secretRef" and path[-1] == "name":
        return True
    return bool(path) and path[-1] == "secretName"


def _mask(node: Any, other: Any, path: tuple[Any, ...], secret_kind: bool, mark: bool) -> Any:
    if isinstance(node, dict):
        return {k: _mask(v, other.get(k, _MISSING) if isinstance(other, dict) else _MISSING,
                         (*path, k), secret_kind, mark) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask(v, other[i] if isinstance(other, list) and i < len(other) else _MISSING,
                      (*path, i), secret_kind, mark) for i, v in enumerate(node)]
    if _sensitive(path, secret_kind):
        return CHANGED if mark and other != node else MASK
    return node


def _load(raw: bytes) -> Any:
    return yaml.load(raw, Loader=yaml.CSafeLoader)


def masked_text(raw: bytes, other: bytes | None = None) -> str:
    """`raw` (one object's YAML) as text with secrets masked; `other`, when given, is the
    base version of the same object (values that differ from it are marked changed)."""
    if b"ecret" not in raw:  # Secret, secretKeyRef, secretRef, secretName
        return raw.decode()
    obj = _load(raw)
    secret_kind = isinstance(obj, dict) and obj.get("kind") == "Secret"
    base = _load(other) if other is not None else _MISSING
    return yamlout.dump(_mask(obj, base, (), secret_kind, other is not None)).decode()
