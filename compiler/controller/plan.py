"""The change set shown before anything changes (kapp's diff): create, update, delete or noop
per object, a field-level diff for updates, Secret data masked, and the apply order.

Pure: the caller fetches the live objects (and, where the quick check is unsure, a
server-side dry-run result) and hands them in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from compiler.controller.inventory import Ref, ref_of

__all__ = [
    "DIGEST_ANNOTATION",
    "MASK",
    "Change",
    "FieldChange",
    "Op",
    "Owner",
    "Plan",
    "apply_rank",
    "comparable",
    "decide",
    "field_diff",
    "object_digest",
    "ordered",
    "owners_of",
    "render_plan",
    "subset_of",
]

DIGEST_ANNOTATION = "mentatlab.io/applied-digest"  # sha256 of the object as last applied
MASK = "(masked)"

# Apply order (deletes run in the reverse): definitions, then where things live, then what
# workloads read, then the workloads, then anything else (custom resources last: their CRDs
# must be Established first).
_RANKS: dict[str, int] = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "PriorityClass": 2, "StorageClass": 2, "RuntimeClass": 2,
    "ClusterRole": 3, "ClusterRoleBinding": 3, "Role": 3, "RoleBinding": 3,
    "ServiceAccount": 3, "ConfigMap": 3, "Secret": 3, "PersistentVolumeClaim": 3,
    "LimitRange": 3, "ResourceQuota": 3,
    "Service": 4, "NetworkPolicy": 4,
    "Deployment": 5, "StatefulSet": 5, "DaemonSet": 5, "Job": 5, "CronJob": 5,
    "PodDisruptionBudget": 6, "HorizontalPodAutoscaler": 6,
    "ValidatingAdmissionPolicy": 7, "ValidatingAdmissionPolicyBinding": 8,
}
_BUILTIN_GROUPS = frozenset({"", "apps", "batch", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
                             "autoscaling", "storage.k8s.io", "node.k8s.io", "scheduling.k8s.io",
                             "admissionregistration.k8s.io", "apiextensions.k8s.io",
                             "coordination.k8s.io", "discovery.k8s.io"})
_CUSTOM = 9
_SERVER_OWNED_META = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                      "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")
_SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",
                       "deployment.kubernetes.io/revision",
                       DIGEST_ANNOTATION)  # compared on its own; in a field diff it is noise


class Op(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "noop"


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    before: Any  # None when the field is added
    after: Any  # None when the field is removed

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class Owner:
    """Another field manager that owns a field this update changes (from managedFields)."""

    path: str
    manager: str
    operation: str  # Update (an edit: drift, taken back) | Apply (another declarative owner)

    @property
    def drift(self) -> bool:
        return self.operation != "Apply"

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "manager": self.manager, "operation": self.operation}


@dataclass(frozen=True, slots=True)
class Change:
    op: Op
    ref: Ref
    fields: tuple[FieldChange, ...] = ()
    reason: str = ""
    owners: tuple[Owner, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": str(self.op), **self.ref.to_dict()}
        if self.fields:
            out["fields"] = [f.to_dict() for f in self.fields]
        if self.reason:
            out["reason"] = self.reason
        if self.owners:
            out["owners"] = [o.to_dict() for o in self.owners]
        return out


@dataclass(slots=True)
class Plan:
    changes: list[Change] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {str(op): 0 for op in Op}
        for c in self.changes:
            out[str(c.op)] += 1
        return out

    def of(self, *ops: Op) -> list[Change]:
        return [c for c in self.changes if c.op in ops]

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "changes": [c.to_dict() for c in self.changes if c.op != Op.NOOP]}


def apply_rank(ref: Ref) -> int:
    if ref.kind in _RANKS and ref.group in _BUILTIN_GROUPS:
        return _RANKS[ref.kind]
    return _CUSTOM if ref.group not in _BUILTIN_GROUPS else 6


def ordered(objs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Objects in apply order, stable by identity within a rank."""
    return sorted(objs, key=lambda o: (apply_rank(r := ref_of(o)), r.key))


def object_digest(obj: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of an object as we apply it (digest annotation excluded)."""
    meta = dict(obj.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != DIGEST_ANNOTATION}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    body = json.dumps({**obj, "metadata": meta}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without what the server owns (status, uid, resourceVersion, managedFields...)."""
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SERVER_OWNED_META}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _SERVER_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def _named(items: Sequence[Any]) -> dict[str, Any] | None:
    """A list of objects keyed by `name` (containers, ports, env...), else None."""
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    by_name = {i["name"]: i for i in items}
    return by_name if len(by_name) == len(items) else None


def _zero(value: Any) -> bool:
    """A value the API server omits when it stores the object (Go's omitempty)."""
    return value is None or value is False or (not isinstance(value, bool) and value in ("", 0, [], {}))


def subset_of(desired: Any, live: Any) -> bool:
    """Every field we set has the same value live (fields others set are not our business)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            subset_of(v, live[k]) if k in live else _zero(v) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(subset_of(d, lv) for d, lv in zip(desired, live, strict=True))
    return bool(desired == live) and type(desired) is type(live)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def field_diff(before: Any, after: Any, path: str = "", *, secret: bool = False) -> list[FieldChange]:
    """Leaf-level differences between two documents; Secret `data`/`stringData` values masked."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[FieldChange] = []
        for key in sorted(set(before) | set(after)):
            sub = _join(path, key)
            masked = secret and path in ("", ) and key in ("data", "stringData")
            if key not in after:
                out.append(FieldChange(sub, MASK if masked else before[key], None))
            elif key not in before:
                out.append(FieldChange(sub, None, MASK if masked else after[key]))
            elif masked:
                out += [FieldChange(_join(sub, k), None if k not in before[key] else MASK,
                                    None if k not in after[key] else MASK)
                        for k in sorted(set(before[key] or {}) | set(after[key] or {}))
                        if (before[key] or {}).get(k) != (after[key] or {}).get(k)]
            else:
                out += field_diff(before[key], after[key], sub, secret=secret)
        return out
    if isinstance(before, list) and isinstance(after, list):
        b, a = _named(before), _named(after)
        if b is not None and a is not None:
            return field_diff(b, a, path, secret=secret)
        if len(before) == len(after):
            out = []
            for i, (x, y) in enumerate(zip(before, after, strict=True)):
                out += field_diff(x, y, f"{path}[{i}]", secret=secret)
            return out
    if before == after and type(before) is type(after):
        return []
    return [FieldChange(path, before, after)]


def _managed_view(desired: Any, live: Any) -> Any:
    """The live document reduced to the fields `desired` sets, for a readable diff."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return {k: _managed_view(v, live[k]) if k in live else v for k, v in desired.items()
                if k in live or _zero(v)}
    if isinstance(desired, list) and isinstance(live, list):
        d, lv = _named(desired), _named(live)
        if d is not None and lv is not None:
            return [_managed_view(v, lv[n]) for n, v in d.items() if n in lv]
        return live
    return live


def _owned(fields: Mapping[str, Any], live: Any, path: str, out: set[str]) -> None:
    """The paths (as field_diff writes them) a managedFields `fieldsV1` set holds."""
    for key, sub in fields.items():
        if key == ".":
            out.add(path)
            continue
        kind, _, raw = key.partition(":")
        child: Any = None
        if kind == "f":
            sub_path = _join(path, raw)
            child = live.get(raw) if isinstance(live, dict) else None
        elif isinstance(live, list):
            try:
                want = json.loads(raw)
            except ValueError:
                continue
            if kind == "k" and isinstance(want, dict):
                match = [i for i, item in enumerate(live)
                         if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items())]
            elif kind == "v":
                match = [i for i, item in enumerate(live) if item == want]
            elif kind == "i" and isinstance(want, int):
                match = [want] if 0 <= want < len(live) else []
            else:
                match = []
            if not match:
                continue
            child = live[match[0]]
            sub_path = _join(path, child["name"]) if _named(live) is not None else f"{path}[{match[0]}]"
        else:
            continue
        if sub:
            _owned(sub, child, sub_path, out)
        else:
            out.add(sub_path)


def owners_of(live: Mapping[str, Any], paths: Iterable[str], us: str) -> tuple[Owner, ...]:
    """Which other field managers own each of `paths` (a field, or one inside or around it)."""
    found: list[Owner] = []
    wanted = list(paths)
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        manager = str(entry.get("manager", ""))
        fields = entry.get("fieldsV1")
        if manager == us or entry.get("subresource") == "status" or not isinstance(fields, dict):
            continue
        owned: set[str] = set()
        _owned(fields, live, "", owned)
        for path in wanted:
            if any(o == path or o.startswith((path + ".", path + "[")) or path.startswith((o + ".", o + "["))
                   for o in owned if o):
                found.append(Owner(path, manager, str(entry.get("operation", ""))))
    return tuple(sorted(set(found), key=lambda o: (o.path, o.manager, o.operation)))


def decide(desired: Mapping[str, Any], live: Mapping[str, Any] | None,
           dry_run: Mapping[str, Any] | None = None, us: str = "mentatctl") -> Change:
    """create, update or noop for one object.

    noop when the live object carries the digest of exactly this desired object and every
    field we set still has its value (so a field someone changed live is found and restored);
    when it is unsure and a server-side dry-run result is given, the server's answer decides.
    """
    ref = ref_of(desired)
    if live is None:
        return Change(Op.CREATE, ref)
    secret = ref.kind == "Secret" and ref.group == ""
    want = comparable(desired)
    have = comparable(live)
    digest = ((live.get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    if digest == object_digest(desired) and subset_of(want, have):
        return Change(Op.NOOP, ref)
    if dry_run is not None:
        after = comparable(dry_run)
        if after == have:
            return Change(Op.NOOP, ref)
        changes = field_diff(have, after, secret=secret)
    else:
        changes = field_diff(_managed_view(want, have), want, secret=secret)
    reason = "" if changes else "applied with a different configuration"
    return Change(Op.UPDATE, ref, tuple(changes), reason, owners_of(live, (c.path for c in changes), us))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _owner_note(o: Owner) -> str:
    if o.drift:
        return f"changed live by {o.manager}: taken back"
    return f"conflict: applied by {o.manager} (--force-conflicts takes it over)"


def render_plan(plan: Plan) -> str:
    """kapp-style text: one line per change, field diffs under updates, then the counts."""
    lines = []
    for c in plan.changes:
        if c.op == Op.NOOP:
            continue
        lines.append(f"{c.op:<6} {c.ref}" + (f"  ({c.reason})" if c.reason else ""))
        for f in c.fields:
            owned = "".join(f"  [{_owner_note(o)}]" for o in c.owners if o.path == f.path)
            if f.before is None:
                lines.append(f"         + {f.path}: {_short(f.after)}{owned}")
            elif f.after is None:
                lines.append(f"         - {f.path}: {_short(f.before)}{owned}")
            else:
                lines.append(f"         ~ {f.path}: {_short(f.before)} -> {_short(f.after)}{owned}")
    counts = plan.counts()
    lines.append("plan: " + ", ".join(f"{counts[str(op)]} {op}" for op in Op))
    return "\n".join(lines)
