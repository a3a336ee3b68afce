"""A tamper-evident audit log: one JSON line per reconcile, each chained to the one before.

    {"event": {...}, "hash": H(n), "prev": H(n-1), "seq": n, "time": "..."}

`hash` is the sha256 of the line's canonical JSON without `hash`; `prev` is the previous
line's hash (64 zeros for the first). Editing a line breaks its hash; removing, inserting or
reordering lines breaks `seq` and `prev`. Removing the newest lines leaves a valid shorter
chain: `verify(..., head=...)` checks against a head recorded elsewhere (the attestation and
the inventory record carry it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GENESIS", "AuditProblem", "append", "entry_hash", "head_of", "verify", "verify_file"]

GENESIS = "0" * 64
_TAIL = 64 * 1024


@dataclass(frozen=True, slots=True)
class AuditProblem:
    line: int  # 1-based; 0 for the log as a whole
    kind: str  # edited | removed | inserted-or-reordered | malformed | truncated
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "message": self.message}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _last_entry(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - _TAIL))
            tail = f.read()
    except FileNotFoundError:
        return None
    lines = [ln for ln in tail.splitlines() if ln.strip()]
    if not lines:
        return None
    try:
        entry = json.loads(lines[-1])
    except (UnicodeDecodeError, json.JSONDecodeError):
        entry = None
    if not isinstance(entry, dict) or entry.get("hash") != entry_hash(entry):
        raise ValueError(f"{path}: the last audit entry is damaged; run `mentatctl audit verify {path}`")
    return entry


def head_of(path: Path) -> str:
    last = _last_entry(path)
    return str(last["hash"]) if last else GENESIS


def append(path: Path, event: Mapping[str, Any], time: str) -> dict[str, Any]:
    """Append one entry (locked, one write, fsynced); returns it with its hash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two reconciles must not both chain onto one head
        last = _last_entry(path)
        entry: dict[str, Any] = {
            "seq": (int(last["seq"]) + 1) if last else 1,
            "prev": str(last["hash"]) if last else GENESIS,
            "time": time,
            "event": dict(event),
        }
        entry["hash"] = entry_hash(entry)
        os.write(fd, _canonical(entry) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def verify(lines: list[bytes], head: str = "") -> list[AuditProblem]:
    """Every break in the chain, by line. Entries are matched by `seq`, so a swap of two lines
    reads as a reorder at both, not as a gap and an insertion."""
    parsed: list[tuple[int, dict[str, Any] | None, str]] = []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as exc:
            parsed.append((number, None, f"line {number} is not JSON ({exc.msg})"))
            continue
        except UnicodeDecodeError as exc:
            parsed.append((number, None, f"line {number} is not JSON ({exc.reason})"))
            continue
        if not isinstance(entry, dict) or type(entry.get("seq")) is not int:
            parsed.append((number, None, f"line {number} is not an audit entry"))
            continue
        parsed.append((number, entry, ""))
    by_seq: dict[int, str] = {}
    for _, entry, _ in parsed:
        if entry is not None:
            by_seq.setdefault(entry["seq"], str(entry.get("hash", "")))
    problems: list[AuditProblem] = []
    top, last_hash = 0, GENESIS
    for number, entry, error in parsed:
        if entry is None:
            problems.append(AuditProblem(number, "malformed", error))
            continue
        seq = entry["seq"]
        if entry.get("hash") != entry_hash(entry):
            problems.append(AuditProblem(number, "edited", f"line {number} (seq {seq}) was edited: "
                                         "its hash does not match its content"))
        elif seq <= top:
            problems.append(AuditProblem(number, "inserted-or-reordered",
                                         f"line {number} has seq {seq} after seq {top}: "
                                         "inserted or reordered"))
        elif missing := [s for s in range(top + 1, seq) if s not in by_seq]:
            problems.append(AuditProblem(number, "removed", f"entries {missing[0]}..{missing[-1]} are "
                                         f"missing before line {number}"))
        elif seq > top + 1:
            problems.append(AuditProblem(number, "inserted-or-reordered",
                                         f"line {number} has seq {seq} before seq {top + 1}: reordered"))
        elif entry.get("prev") != (by_seq.get(seq - 1, "") if seq > 1 else GENESIS):
            problems.append(AuditProblem(number, "inserted-or-reordered",
                                         f"line {number} (seq {seq}) does not chain to seq {seq - 1}: an "
                                         "entry was inserted, replaced or reordered"))
        if seq > top:
            top, last_hash = seq, str(entry.get("hash", ""))
    if head and not problems and last_hash != head:
        problems.append(AuditProblem(0, "removed", f"the log ends at {last_hash[:12]}…, not at the expected "
                                     f"head {head[:12]}…: entries were removed from its end"))
    return problems


def verify_file(path: Path, head: str = "") -> list[AuditProblem]:
    return verify(path.read_bytes().splitlines(), head)
