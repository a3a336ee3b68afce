"""The attestation of one reconcile: an in-toto Statement v1 with predicate type
https://mentatlab.io/attestation/apply/v1, signed like the output tree (DSSE in a Sigstore
bundle, `compiler/sign/`), so `mentatctl verify-attestation` and `cosign
verify-blob-attestation --bundle ... --trusted-root PKI/trusted_root.json --type
https://mentatlab.io/attestation/apply/v1 RENDERED/index.json` both check it.

Subjects: the rendered tree's index.json (so cosign can check the attestation against the
tree file itself) and every applied object, named `GROUP/KIND/NAMESPACE/NAME`, with the
sha256 of the object as applied. The predicate binds the verified source (bundle digest,
signer, or that it was unsigned and allowed), the cluster, the plan counts, each object's uid
and resourceVersion, what was pruned, the result and the time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from compiler.sign.bundle import BundleError, ParsedBundle, dump_bundle, parse_bundle, pki_bundle
from compiler.sign.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
from compiler.sign.pki import Pki, signer_identity
from compiler.sign.statement import STATEMENT_TYPE, canonical_json
from compiler.sign.verify import verify_chain

__all__ = [
    "PREDICATE_TYPE",
    "AppliedObject",
    "AttestationCheck",
    "AttestationSignError",
    "KeylessSigner",
    "Source",
    "build_statement",
    "sign_statement",
    "sign_statement_keyless",
    "subject_name",
    "verify_attestation",
    "verify_attestation_keyless",
]

PREDICATE_TYPE = "https://mentatlab.io/attestation/apply/v1"
TREE_SUBJECT = "index.json"


@dataclass(frozen=True, slots=True)
class Source:
    """What `verify` established about the rendered tree."""

    verified: bool
    tree_digest: str  # sha256 of index.json
    bundle_digest: str = ""  # sha256 of index.sigstore.json ("" when unsigned)
    signer: str = ""
    method: str = ""  # pki | keyless | unsigned
    commit: str = ""
    workspace: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verified": self.verified, "method": self.method or "unsigned",
                               "treeDigest": {"sha256": self.tree_digest}}
        if self.bundle_digest:
            out["bundleDigest"] = {"sha256": self.bundle_digest}
        for key, value in (("signer", self.signer), ("commit", self.commit), ("workspace", self.workspace)):
            if value:
                out[key] = value
        if not self.verified:
            out["allowedUnsigned"] = True
        return out


@dataclass(frozen=True, slots=True)
class AppliedObject:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str
    resource_version: str
    digest: str  # sha256 of the object as applied

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name,
                               "uid": self.uid, "resourceVersion": self.resource_version,
                               "digest": {"sha256": self.digest}}
        if self.namespace:
            out["namespace"] = self.namespace
        return out


def subject_name(api_version: str, kind: str, namespace: str, name: str) -> str:
    group = api_version.rpartition("/")[0] or "core"
    return f"{group}/{kind}/{namespace or '_cluster'}/{name}"


def build_statement(
    *,
    source: Source,
    target: Mapping[str, str],  # environment, region, inventory
    cluster: Mapping[str, str],  # server, context
    plan_counts: Mapping[str, int],
    applied: Sequence[AppliedObject],
    pruned: Sequence[Mapping[str, str]],
    result: str,
    reason: str,
    started: dt.datetime,
    finished: dt.datetime,
    dry_run: bool = False,
) -> dict[str, Any]:
    subjects = [{"name": TREE_SUBJECT, "digest": {"sha256": source.tree_digest}}]
    subjects += sorted(
        ({"name": subject_name(o.api_version, o.kind, o.namespace, o.name), "digest": {"sha256": o.digest}}
         for o in applied),
        key=lambda s: str(s["name"]),
    )
    predicate: dict[str, Any] = {
        "source": source.to_dict(),
        "target": dict(sorted(target.items())),
        "cluster": dict(sorted(cluster.items())),
        "plan": dict(sorted(plan_counts.items())),
        "objects": [o.to_dict() for o in sorted(applied, key=lambda o: (o.kind, o.namespace, o.name))],
        "pruned": [dict(p) for p in pruned],
        "result": result,
        "startedOn": started.isoformat().replace("+00:00", "Z"),
        "finishedOn": finished.isoformat().replace("+00:00", "Z"),
    }
    if reason:
        predicate["reason"] = reason
    if dry_run:
        predicate["dryRun"] = True
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE,
            "predicate": predicate}


def sign_statement(statement: Mapping[str, Any], pki: Pki) -> bytes:
    """A Sigstore bundle of the statement (DSSE), signed by the PKI's leaf: the same form as
    the signed tree's (compiler/sign/bundle.pki_bundle: v0.2, leaf and intermediate), so the
    PKI's trusted_root.json serves cosign for both."""
    envelope = sign_envelope(canonical_json(statement), INTOTO_PAYLOAD_TYPE, pki.key.sign)
    return dump_bundle(pki_bundle(envelope, pki.leaf, [pki.intermediate]))


@dataclass(frozen=True, slots=True)
class KeylessSigner:
    """Sign attestations with Sigstore keyless: the OIDC token, found and checked before the
    reconcile touches the cluster (a secret: never printed)."""

    token: str = field(repr=False)
    staging: bool = False


class AttestationSignError(Exception):
    """The configured signer could not sign the attestation."""


def sign_statement_keyless(statement: Mapping[str, Any], signer: KeylessSigner) -> bytes:
    """A Sigstore bundle of the statement from Fulcio and Rekor (compiler/sign/keyless.py),
    which `cosign verify-blob-attestation` and `mentatctl verify-attestation --identity
    --issuer` check against Sigstore's trust root."""
    from compiler.sign.keyless import sign_statement_keyless as sign

    signed = sign(canonical_json(statement), token=signer.token, staging=signer.staging)
    if signed.diagnostics or not signed.bundle:
        raise AttestationSignError("; ".join(d.message for d in signed.diagnostics) or "no bundle")
    return signed.bundle


@dataclass(slots=True)
class AttestationCheck:
    ok: bool = False
    signer: str = ""
    statement: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        pred = self.statement.get("predicate") or {}
        return {"ok": self.ok, "signer": self.signer, "result": pred.get("result"),
                "target": pred.get("target"), "plan": pred.get("plan"),
                "objects": len(pred.get("objects") or []), "problems": self.problems}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _parsed(raw: bytes, check: AttestationCheck) -> ParsedBundle | None:
    """The attestation's bundle, or None with the reason among `check`'s problems."""
    try:
        return parse_bundle(raw)
    except BundleError as exc:
        check.problems.append(f"attestation bundle rejected: {exc}")
        return None


def verify_attestation(raw: bytes, roots: list[x509.Certificate], now: dt.datetime,
                       tree_index: bytes | None = None) -> AttestationCheck:
    """Chain to `roots`, DSSE signature, statement shape; with `tree_index`, that the
    attestation is about that very tree."""
    check = AttestationCheck()
    bundle = _parsed(raw, check)
    if bundle is None:
        return check
    leaf = bundle.certificates[0]
    check.signer = signer_identity(leaf)
    # A trust file may also hold intermediates (for bundles carrying only the signing
    # certificate): self-signed certificates are roots, the others intermediates.
    anchors = [c for c in roots if c.subject == c.issuer]
    intermediates = [c for c in roots if c.subject != c.issuer and c not in bundle.certificates]
    cause = verify_chain((*bundle.certificates, *intermediates), anchors or roots, now)
    if cause:
        check.problems.append(cause)
        return check
    envelope = bundle.envelope
    key = leaf.public_key()
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE or len(envelope.signatures) != 1:
        check.problems.append("attestation envelope is not one signature over an in-toto payload")
        return check
    if not isinstance(key, ec.EllipticCurvePublicKey):
        check.problems.append("signing certificate does not hold an ECDSA key")
        return check
    try:
        key.verify(envelope.signatures[0].sig, envelope.pae(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        check.problems.append("attestation signature does not verify (payload or signature altered)")
        return check
    _check_statement(envelope.payload, tree_index, check)
    return check


def _check_statement(payload: bytes, tree_index: bytes | None, check: AttestationCheck) -> None:
    try:
        statement = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        check.problems.append("attestation payload is not JSON")
        return
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE \
            or statement.get("predicateType") != PREDICATE_TYPE:
        check.problems.append(f"attestation is not an in-toto Statement with predicate type {PREDICATE_TYPE}")
        return
    check.statement = statement
    if tree_index is not None:
        names = {s.get("name"): (s.get("digest") or {}).get("sha256") for s in statement.get("subject") or []
                 if isinstance(s, dict)}
        if names.get(TREE_SUBJECT) != _sha256(tree_index):
            check.problems.append("attestation is about another rendered tree (index.json digest differs)")
            return
    check.ok = True


def verify_attestation_keyless(raw: bytes, identity: str, issuer: str, tree_index: bytes | None = None,
                               *, staging: bool = False) -> AttestationCheck:
    """A keyless attestation (--sign-keyless): sigstore's verifier against Sigstore's trust
    root (certificate from Fulcio, Rekor inclusion) and the expected identity and issuer,
    then the statement as for a PKI one."""
    check = AttestationCheck()
    parsed = _parsed(raw, check)
    if parsed is None:
        return check
    if not parsed.keyless:
        check.problems.append("attestation was signed with an organisation PKI (no transparency log "
                              "entry); verify it with --trust ROOT_CERT")
        return check
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    try:
        verifier = Verifier.staging() if staging else Verifier.production()
        payload_type, payload = verifier.verify_dsse(Bundle.from_json(raw), Identity(identity=identity,
                                                                                     issuer=issuer))
    except Exception as exc:  # sigstore's VerificationError, TUF and bundle errors alike
        text = str(exc).strip().splitlines()
        check.problems.append(f"keyless verification failed: {type(exc).__name__}: {text[0] if text else ''}")
        return check
    check.signer = identity
    if payload_type != INTOTO_PAYLOAD_TYPE:
        check.problems.append(f"attestation payload type is {payload_type!r}, not in-toto")
        return check
    _check_statement(payload, tree_index, check)
    return check
