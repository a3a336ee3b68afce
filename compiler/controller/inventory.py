"""The inventory: which objects one workspace target applied, as pure functions on a value.

As in Flux's kustomize-controller: `new`, `add` (a change set joins the inventory before it is
applied, so an object applied by a reconcile that is cut off is still known to the next one),
`diff` (what the old inventory holds and the new one does not: the prune set). Identity ignores
the API version (apps/v1beta1 → apps/v1 is the same object, never pruned and re-created).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INVENTORY_KEY",
    "LABEL",
    "Inventory",
    "InventoryError",
    "Ref",
    "add",
    "diff",
    "from_data",
    "inventory_id",
    "new",
    "ref_of",
    "to_data",
]

LABEL = "mentatlab.io/inventory"  # on every applied object: value = the inventory id
INVENTORY_KEY = "inventory.json"  # the ConfigMap record's data key
_LABEL_VALUE = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


class InventoryError(ValueError):
    """A stored inventory record is malformed."""


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """An object's identity: group, kind, namespace ("" when cluster-scoped), name."""

    group: str
    kind: str
    namespace: str
    name: str
    version: str = ""  # the API version it was applied with; not part of the identity

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.group, self.kind, self.namespace, self.name)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"

    def to_dict(self) -> dict[str, str]:
        out = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out


def ref_of(obj: Mapping[str, Any]) -> Ref:
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    meta = obj.get("metadata") or {}
    return Ref(group, str(obj.get("kind", "")), str(meta.get("namespace") or ""),
               str(meta.get("name", "")), version)


@dataclass(frozen=True, slots=True)
class Inventory:
    id: str
    refs: tuple[Ref, ...]  # sorted, one per identity

    def __len__(self) -> int:
        return len(self.refs)

    def keys(self) -> frozenset[tuple[str, str, str, str]]:
        return frozenset(r.key for r in self.refs)


def inventory_id(workspace: str, env: str, region: str) -> str:
    """A label value (at most 63 characters) naming one workspace target."""
    value = f"{workspace}.{env}.{region}".lower()
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        value = f"{env}.{region}"[:46].strip(".-") + "." + hashlib.sha256(value.encode()).hexdigest()[:16]
    return value


def _unique(refs: Iterable[Ref]) -> tuple[Ref, ...]:
    by_key: dict[tuple[str, str, str, str], Ref] = {}
    for r in refs:
        by_key[r.key] = r  # later wins: the newest API version applied
    return tuple(sorted(by_key.values(), key=lambda r: r.key))


def new(id: str, refs: Iterable[Ref] = ()) -> Inventory:
    return Inventory(id, _unique(refs))


def add(inv: Inventory, refs: Iterable[Ref]) -> Inventory:
    """The inventory plus a change set's objects (before they are applied)."""
    return Inventory(inv.id, _unique((*inv.refs, *refs)))


def diff(old: Inventory, new_inv: Inventory) -> tuple[Ref, ...]:
    """Objects in `old` that `new_inv` no longer holds: the prune set, in identity order."""
    keep = new_inv.keys()
    return tuple(r for r in old.refs if r.key not in keep)


def to_data(inv: Inventory) -> dict[str, str]:
    """The ConfigMap record's data: one canonical JSON document."""
    objects = [[r.group, r.version, r.kind, r.namespace, r.name] for r in inv.refs]
    body = json.dumps({"id": inv.id, "objects": objects}, separators=(",", ":"), sort_keys=True)
    return {INVENTORY_KEY: body}


def from_data(data: Mapping[str, Any] | None, id: str) -> Inventory:
    """Read a ConfigMap record back; an absent record is an empty inventory."""
    if not data or INVENTORY_KEY not in data:
        return new(id)
    try:
        parsed = json.loads(data[INVENTORY_KEY])
    except (TypeError, json.JSONDecodeError) as exc:
        raise InventoryError(f"inventory record is not JSON: {exc}") from exc
    if not isinstance(parsed, dict) or parsed.get("id") != id or not isinstance(parsed.get("objects"), list):
        raise InventoryError(f"inventory record does not belong to {id!r} or has no object list")
    refs = []
    for item in parsed["objects"]:
        if not (isinstance(item, list) and len(item) == 5 and all(isinstance(x, str) for x in item)):
            raise InventoryError(f"inventory record entry is malformed: {item!r}")
        group, version, kind, namespace, name = item
        refs.append(Ref(group, kind, namespace, name, version))
    return new(id, refs)
