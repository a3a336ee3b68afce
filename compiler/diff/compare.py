"""Two compiled commits side by side: objects added, removed and changed per output directory
(environment/region, crds, policies, argocd), other files, policy findings, cost per flow.

Pure: `Side` values in, a `DiffReport` out. Files whose digests match are never read (the
incremental cache hands over unchanged objects by digest, an output tree lists them in
index.json), so a one-flow change to a 10k object workspace reads only that flow's objects.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from compiler.diff.mask import masked_text
from compiler.policy import Finding
from compiler.render.layout import INDEX, Files

__all__ = ["CostDelta", "DiffReport", "FindingKey", "ObjectChange", "Side", "compare",
           "finding_keys"]

COST = "cost.json"
POLICY_REPORT = "policy-report.json"
_SUMMARISED = (INDEX, COST, POLICY_REPORT)  # reported as digests, cost and policy sections


@dataclass(frozen=True, slots=True, order=True)
class FindingKey:
    """A policy outcome worth reporting, without its line (which moves with unrelated edits)."""

    rule: str
    object: str
    status: str  # fail | error | limit | skipped | waived
    severity: str
    message: str
    file: str = field(compare=False)

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "object": self.object, "status": self.status,
                "severity": self.severity, "message": self.message, "file": self.file}


def finding_keys(findings: Iterable[Finding]) -> frozenset[FindingKey]:
    return frozenset(
        FindingKey(f.rule, f.object, "waived" if f.waiver is not None else f.status,
                   f.severity, f.message, f.file)
        for f in findings if f.status != "pass" or f.waiver is not None)


@dataclass(frozen=True, slots=True)
class Side:
    """One compiled commit."""

    ref: str
    commit: str
    files: Files  # the whole output tree, index.json included
    objects: Mapping[str, tuple[str, str, str]]  # object path -> (directory, kind, name)
    findings: frozenset[FindingKey]
    tree_digest: str  # sha256 hex of index.json: what `sign` makes the statement's subject


@dataclass(frozen=True, slots=True)
class ObjectChange:
    op: str  # added | removed | changed
    target: str  # the object's directory: "<env>/<region>", "crds", "policies", ...
    kind: str
    name: str
    path: str
    diff: str  # unified diff, secrets masked ("" for removed objects)

    def to_dict(self) -> dict[str, str]:
        return {"op": self.op, "target": self.target, "kind": self.kind, "name": self.name,
                "path": self.path, "diff": self.diff}


@dataclass(frozen=True, slots=True)
class CostDelta:
    flow: str  # flow name (versions are shown, not compared)
    base: Decimal
    head: Decimal
    base_versions: tuple[str, ...]
    head_versions: tuple[str, ...]

    @property
    def delta(self) -> Decimal:
        return self.head - self.base

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "base": str(self.base), "head": str(self.head),
                "delta": str(self.delta), "baseVersions": list(self.base_versions),
                "headVersions": list(self.head_versions)}


@dataclass(frozen=True, slots=True)
class DiffReport:
    workspace: str
    base: Side
    head: Side
    changes: tuple[ObjectChange, ...]  # sorted by (target, path)
    files: dict[str, tuple[str, ...]]  # added / removed / changed: other output files
    unchanged: int  # objects in both with the same bytes
    new_findings: tuple[FindingKey, ...]
    fixed_findings: tuple[FindingKey, ...]
    cost: tuple[CostDelta, ...] | None  # flows whose estimate changed; None: no pricing
    cost_total: tuple[Decimal, Decimal] | None  # (base, head)

    def count(self, op: str) -> int:
        return sum(1 for c in self.changes if c.op == op)

    def targets(self) -> list[str]:
        return sorted({c.target for c in self.changes})


def _unified(path: str, a: str, b: str) -> str:
    lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                 f"a/{path}", f"b/{path}", n=3)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _cost(files: Files) -> dict[str, Any] | None:
    if COST not in files:
        return None
    data = orjson.loads(files[COST])
    return data.get("totals") if isinstance(data, dict) else None


def _by_flow(totals: Mapping[str, Any] | None) -> dict[str, tuple[Decimal, list[str]]]:
    out: dict[str, tuple[Decimal, list[str]]] = {}
    for key, value in sorted(((totals or {}).get("flows") or {}).items()):
        name, _, version = key.partition("@")
        total, versions = out.get(name, (Decimal(0), []))
        out[name] = (total + Decimal(str(value)), [*versions, version])
    return out


def _cost_deltas(base: Files, head: Files
                 ) -> tuple[tuple[CostDelta, ...] | None, tuple[Decimal, Decimal] | None]:
    b, h = _cost(base), _cost(head)
    if b is None and h is None:
        return None, None
    bf, hf = _by_flow(b), _by_flow(h)
    rows = []
    for flow in sorted(bf.keys() | hf.keys()):
        (bv, bvers), (hv, hvers) = bf.get(flow, (Decimal(0), [])), hf.get(flow, (Decimal(0), []))
        if bv != hv or bvers != hvers:
            rows.append(CostDelta(flow, bv, hv, tuple(bvers), tuple(hvers)))
    total = (Decimal(str((b or {}).get("total", 0))), Decimal(str((h or {}).get("total", 0))))
    return tuple(rows), total


def _summarised(path: str) -> bool:
    return path in _SUMMARISED or path.endswith("/kustomization.yaml")


def compare(workspace: str, base: Side, head: Side) -> DiffReport:
    bd, hd = base.files.digests(), head.files.digests()
    changes: list[ObjectChange] = []
    unchanged = 0
    for path in sorted(base.objects.keys() | head.objects.keys()):
        # (directory, kind, name) looked up only for objects that differ: a side read from
        # an output tree (diff/tree.py) parses an object's YAML to answer
        if path not in base.objects:
            text = masked_text(head.files[path])
            changes.append(ObjectChange("added", *head.objects[path], path,
                                        _unified(path, "", text)))
        elif path not in head.objects:
            changes.append(ObjectChange("removed", *base.objects[path], path, ""))
        elif bd[path] != hd[path]:
            old, new = base.files[path], head.files[path]
            a, b = masked_text(old), masked_text(new, old)
            changes.append(ObjectChange("changed", *head.objects[path], path,
                                        _unified(path, a, b)))
        else:
            unchanged += 1
    changes.sort(key=lambda c: (c.target, c.path))
    other_b = {p for p in bd if p not in base.objects and not _summarised(p)}
    other_h = {p for p in hd if p not in head.objects and not _summarised(p)}
    files = {
        "added": tuple(sorted(other_h - other_b)),
        "removed": tuple(sorted(other_b - other_h)),
        "changed": tuple(sorted(p for p in other_b & other_h if bd[p] != hd[p])),
    }
    cost, total = _cost_deltas(base.files, head.files)
    return DiffReport(
        workspace=workspace, base=base, head=head, changes=tuple(changes), files=files,
        unchanged=unchanged,
        new_findings=tuple(sorted(head.findings - base.findings)),
        fixed_findings=tuple(sorted(base.findings - head.findings)),
        cost=cost, cost_total=total,
    )
