"""One reconcile as a chain of named steps (Flux's build → apply → health → prune):

    verify → plan → apply → health → prune → attest → audit

Each step takes the shared `State`, does one thing, and says whether the chain goes on.
`attest` and `audit` run whatever happened before them (a refusal is recorded too), except in
a dry run, which stops after `plan`. Safe to cut off anywhere: the inventory record is widened
to old ∪ new before anything is applied and narrowed to the new tree only after the prune, so
a rerun converges and never forgets an object it may have created.

This module holds the chain: its options, state and outcome, and the runner. The steps that
change the cluster are in steps.py, what they read and keep of it in observe.py, and the
attest and audit steps in evidence.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from compiler.controller.attest import AppliedObject, KeylessSigner, Source
from compiler.controller.budget import Budget
from compiler.controller.client import ApiError, Cluster, ConfigError
from compiler.controller.evidence import _now, step_attest, step_audit
from compiler.controller.inventory import Inventory, Ref
from compiler.controller.lease import Lease
from compiler.controller.plan import Plan
from compiler.controller.snapshot import Seen, Snapshot
from compiler.controller.steps import step_apply, step_health, step_plan, step_prune, step_verify
from compiler.sign.pki import Pki

__all__ = ["STEPS", "Options", "Outcome", "State", "Step", "reconcile"]


@dataclass(slots=True)
class Options:
    rendered: Path
    env: str
    region: str
    trust_roots: list[x509.Certificate] | None = None
    identity: str = ""
    issuer: str = ""
    allow_unsigned: bool = False
    dry_run: bool = False
    force_conflicts: bool = False
    budget: Budget = field(default_factory=Budget)
    wait: bool = True
    timeout: float = 120.0
    inventory_namespace: str = "mentat-system"
    signer: Pki | KeylessSigner | None = None
    audit_log: Path | None = None
    attestation_out: Path | None = None
    snapshot_dir: Path | None = None  # what the last reconcile applied (snapshot.py); None: always parse
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}/{os.getpid()}")
    workers: int = 8
    lease_wait: float | None = None
    stop_after: str = ""  # a step name: tests cut a reconcile off there


@dataclass(slots=True)
class Step:
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(slots=True)
class State:
    opts: Options
    connect: Callable[[], Cluster]
    started: dt.datetime
    cluster: Cluster | None = None
    result: str = "succeeded"  # succeeded | planned | refused | failed | interrupted
    reason: str = ""
    source: Source | None = None
    workspace: str = ""
    inventory_id: str = ""
    desired: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # the target's manifests -> sha256 (signed index)
    file_of: dict[tuple[str, str, str, str], str] = field(default_factory=dict)  # object -> its file
    snapshot: Snapshot | None = None
    cached: dict[tuple[str, str, str, str], tuple[str, Seen]] = field(default_factory=dict)  # not parsed
    record_data: dict[str, str] | None = None
    record_anchor: str = ""  # the record's SNAPSHOT_ANNOTATION
    snapshot_saved: str = ""  # sha256 of the snapshot this reconcile wrote
    files_read: set[str] = field(default_factory=set)  # the rest were vouched for by the snapshot
    live: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    old: Inventory | None = None
    record_rv: str = ""
    plan: Plan = field(default_factory=Plan)
    prune_set: list[Ref] = field(default_factory=list)
    kept: list[tuple[Ref, str]] = field(default_factory=list)
    applied: list[AppliedObject] = field(default_factory=list)
    apply_started: bool = False
    restored: list[str] = field(default_factory=list)
    pruned: list[Ref] = field(default_factory=list)
    prune_failed: list[Ref] = field(default_factory=list)
    unhealthy: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    lease: Lease | None = None
    attestation: Path | None = None
    attestation_digest: str = ""
    attestation_signed: bool = False
    audit_entry: dict[str, Any] | None = None
    on_plan: Callable[[Plan], None] | None = None

    def stop(self, result: str, reason: str, problems: Sequence[str] = ()) -> bool:
        self.result, self.reason = result, reason
        self.problems += list(problems)
        return False


@dataclass(slots=True)
class Outcome:
    result: str
    reason: str
    steps: list[Step]
    plan: Plan
    applied: list[AppliedObject]
    restored: list[str]
    pruned: list[Ref]
    kept: list[tuple[Ref, str]]
    unhealthy: list[str]
    problems: list[str]
    inventory: str
    files: dict[str, int]
    source: Source | None
    attestation: Path | None
    attestation_signed: bool
    audit_entry: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        return self.result in ("succeeded", "planned")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "result": self.result,
            "reason": self.reason,
            "inventory": self.inventory,
            "files": self.files,
            "steps": [s.to_dict() for s in self.steps],
            "plan": self.plan.to_dict(),
            "applied": len(self.applied),
            "restored": self.restored,
            "pruned": [r.to_dict() for r in self.pruned],
            "kept": [{**r.to_dict(), "why": why} for r, why in self.kept],
            "unhealthy": self.unhealthy,
            "problems": self.problems,
            "source": self.source.to_dict() if self.source else None,
            "attestation": str(self.attestation) if self.attestation else None,
            "attestationSigned": self.attestation_signed,
            "audit": {"seq": self.audit_entry["seq"], "hash": self.audit_entry["hash"]}
            if self.audit_entry else None,
        }


Runner = Callable[[State], bool]
STEPS: tuple[tuple[str, Runner], ...] = (
    ("verify", step_verify),
    ("plan", step_plan),
    ("apply", step_apply),
    ("health", step_health),
    ("prune", step_prune),
)
FINALLY: tuple[tuple[str, Runner], ...] = (("attest", step_attest), ("audit", step_audit))


def reconcile(opts: Options, connect: Callable[[], Cluster],
              on_plan: Callable[[Plan], None] | None = None,
              on_step: Callable[[str], None] | None = None,
              should_stop: Callable[[], bool] | None = None) -> Outcome:
    """Run the chain. Connection and configuration errors become a failed outcome, never a
    traceback; the Lease is always released."""
    s = State(opts, connect, _now(), on_plan=on_plan)
    try:
        for name, run in STEPS:
            if on_step:
                on_step(name)
            try:
                go_on = run(s)
            except (ApiError, ConfigError) as exc:
                go_on = s.stop("failed", f"{name}: {exc}")
            ok = go_on or s.result in ("succeeded", "planned")
            s.steps.append(Step(name, ok, "" if go_on else s.reason))
            if not go_on or name == opts.stop_after:
                break
            if should_stop is not None and should_stop() and name != STEPS[-1][0]:
                s.stop("interrupted", f"stopped after step {name} (SIGTERM); the next reconcile goes on")
                break
        if s.result != "planned" and opts.stop_after not in {n for n, _ in STEPS}:
            for name, run in FINALLY:
                if on_step:
                    on_step(name)
                try:
                    run(s)
                    s.steps.append(Step(name, True))
                except (ApiError, OSError, ValueError) as exc:
                    s.problems.append(f"{name}: {exc}")
                    s.steps.append(Step(name, False, str(exc)))
    finally:
        if s.lease is not None:
            s.lease.release()
    return Outcome(s.result, s.reason, s.steps, s.plan, s.applied, s.restored, s.pruned, s.kept, s.unhealthy,
                   s.problems, s.inventory_id,
                   {"manifests": len(s.files), "read": len(s.files_read),
                    "skipped": len(s.files) - len(s.files_read)},  # vouched for by the snapshot
                   s.source, s.attestation, s.attestation_signed, s.audit_entry)


def describe(outcome: Outcome) -> str:
    return json.dumps(outcome.to_dict(), indent=2)
