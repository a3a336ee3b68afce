"""The last two steps of a reconcile, which run whatever happened before them: attest (the
signed statement of what was applied, written out and stored in the cluster) and audit (a
line in the chained audit log).

Apart from steps.py: they change nothing in the target, they record the outcome.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from typing import TYPE_CHECKING

from compiler.controller import audit as audit_log
from compiler.controller.attest import (
    AttestationSignError,
    KeylessSigner,
    Source,
    build_statement,
    sign_statement,
    sign_statement_keyless,
)
from compiler.controller.client import ApiError
from compiler.controller.steps import RECORD_LABEL
from compiler.sign.pki import Pki
from compiler.sign.statement import canonical_json

if TYPE_CHECKING:
    from compiler.controller.reconcile import State


ATTESTATION_PREFIX = "mentat-attestation-"
AUDIT_HEAD = "mentatlab.io/audit-head"
_MAX_IN_CLUSTER = 900 * 1024  # a ConfigMap holds at most 1 MiB


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def step_attest(s: State) -> bool:
    o = s.opts
    source = s.source or Source(False, "")
    statement = build_statement(
        source=source,
        target={"environment": o.env, "region": o.region, "inventory": s.inventory_id},
        cluster={"server": s.cluster.server, "context": s.cluster.context} if s.cluster else {},
        plan_counts=s.plan.counts(),
        applied=s.applied,
        pruned=[r.to_dict() for r in s.pruned],
        result=s.result,
        reason=s.reason,
        started=s.started,
        finished=_now(),
    )
    body = canonical_json(statement) + b"\n"
    if isinstance(o.signer, Pki):
        body, s.attestation_signed = sign_statement(statement, o.signer), True
    elif isinstance(o.signer, KeylessSigner):
        try:
            body, s.attestation_signed = sign_statement_keyless(statement, o.signer), True
        except AttestationSignError as exc:  # Fulcio, Rekor or the token: kept, unsigned, and said so
            s.problems.append(f"the attestation could not be signed keyless (written unsigned): {exc}")
            if s.result == "succeeded":
                s.result, s.reason = "failed", "the attestation could not be signed"
    s.attestation_digest = hashlib.sha256(body).hexdigest()
    if o.attestation_out is not None:
        o.attestation_out.parent.mkdir(parents=True, exist_ok=True)
        tmp = o.attestation_out.with_name(o.attestation_out.name + ".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, o.attestation_out)
        s.attestation = o.attestation_out
    if s.cluster is not None and s.apply_started and len(body) <= _MAX_IN_CLUSTER:
        try:
            s.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": ATTESTATION_PREFIX + s.inventory_id,
                                          "namespace": o.inventory_namespace,
                                          "labels": {RECORD_LABEL: "attestation"}},
                             "binaryData": {"attestation.json": _b64(body)}}, force=True, metadata_only=True)
        except ApiError as exc:
            s.problems.append(f"the attestation could not be stored in the cluster: {exc}")
    return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def step_audit(s: State) -> bool:
    o = s.opts
    if o.audit_log is None:
        return True
    event = {
        "inventory": s.inventory_id,
        "environment": o.env,
        "region": o.region,
        "result": s.result,
        "reason": s.reason,
        "plan": s.plan.counts(),
        "pruned": len(s.pruned),
        "source": s.source.to_dict() if s.source else None,
        "cluster": s.cluster.server if s.cluster else "",
        "attestation": {"sha256": s.attestation_digest, "signed": s.attestation_signed},
        "holder": o.holder,
    }
    s.audit_entry = audit_log.append(o.audit_log, event, _now().isoformat().replace("+00:00", "Z"))
    return True
