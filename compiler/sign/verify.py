"""Verify a signed output tree: authenticity first, then every byte of every file.

Order matters: a statement is only trusted after its signature and certificate chain check
out, and the tree is only compared with a trusted statement. Every failure is a diagnostic
naming its cause (expired leaf, wrong root, changed file, ...); `VerifyResult.ok` is true
only when there are none.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from compiler.diagnostics import Diagnostic
from compiler.sign.bundle import BUNDLE_NAME, MAX_BUNDLE_BYTES, BundleError, ParsedBundle, parse_bundle
from compiler.sign.dsse import INTOTO_PAYLOAD_TYPE, Envelope
from compiler.sign.pki import signer_identity
from compiler.sign.statement import (
    BUILD_TYPE,
    INDEX_NAME,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    IndexFormatError,
    parse_index,
)
from compiler.sign.tree import compare, display, hash_tree, read_regular

__all__ = [
    "SignedStatement",
    "VerifyResult",
    "check_statement_and_tree",
    "load_bundle",
    "load_trust_roots",
    "verify_chain",
    "verify_pki",
]

_MAX_LISTED = 50
_MAX_INDEX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SignedStatement:
    subjects: dict[str, str]  # name -> sha256 hex
    workspace: str
    commit: str
    repository: str
    compiler_version: str
    dirty: bool  # the sources' work tree had uncommitted changes when it was signed


@dataclass(slots=True)
class VerifyResult:
    method: str = ""  # pki | keyless
    files: int = 0  # rendered files verified (index.json excluded)
    signer: str = ""
    issuer: str = ""
    commit: str = ""
    repository: str = ""
    workspace: str = ""
    compiler_version: str = ""
    dirty: bool = False
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "method": self.method,
            "files": self.files,
            "signer": self.signer,
            "issuer": self.issuer,
            "commit": self.commit,
            "repository": self.repository,
            "workspace": self.workspace,
            "compilerVersion": self.compiler_version,
            "uncommittedChanges": self.dirty,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


def _where(label: str, rel: str) -> str:
    return f"{label.rstrip('/')}/{display(rel)}"


def load_bundle(rendered: Path, label: str) -> tuple[ParsedBundle | None, Diagnostic | None]:
    where = _where(label, BUNDLE_NAME)
    path = rendered / BUNDLE_NAME
    try:
        raw = read_regular(path, MAX_BUNDLE_BYTES)
    except FileNotFoundError:
        return None, Diagnostic(
            "M802",
            f"output is not signed: {BUNDLE_NAME} is missing",
            where,
            hint="sign it with `mentatctl sign`",
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, Diagnostic("M802", f"cannot read the signature bundle: {reason}", where)
    try:
        return parse_bundle(raw), None
    except BundleError as exc:
        return None, Diagnostic("M802", f"signature bundle rejected: {exc}", where)


def load_trust_roots(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def _utc(t: dt.datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC"


def _fingerprint(cert: x509.Certificate) -> str:
    return "sha256:" + cert.fingerprint(hashes.SHA256()).hex()[:16]


def _cn(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _eku(cert: x509.Certificate) -> x509.ExtendedKeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _code_signing(_policy: Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage) -> None:
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise ValueError("extended key usage lacks code signing")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_chain(
    certs: tuple[x509.Certificate, ...], roots: list[x509.Certificate], now: dt.datetime
) -> str | None:
    """None if `certs` (leaf first) chain to one of `roots` as a code signer; else the cause.

    Common causes are diagnosed by name first; cryptography's RFC 5280 path validation
    (`cryptography.x509.verification`) then has the last word on everything else.
    """
    leaf, intermediates = certs[0], list(certs[1:])
    if leaf.not_valid_after_utc < now:
        return f"signing certificate expired on {_utc(leaf.not_valid_after_utc)} ({_cn(leaf)})"
    if leaf.not_valid_before_utc > now:
        return (
            f"signing certificate is not valid yet: valid from "
            f"{_utc(leaf.not_valid_before_utc)} ({_cn(leaf)})"
        )
    if _is_ca(leaf):
        return f"signing certificate is a CA certificate ({_cn(leaf)})"
    eku = _eku(leaf)
    if eku is None or ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        return f"signing certificate lacks the code-signing extended key usage ({_cn(leaf)})"
    for inter in intermediates:
        if not _is_ca(inter):
            return "intermediate certificate is not a CA (basicConstraints CA flag not set): " + _cn(inter)
        if not inter.not_valid_before_utc <= now <= inter.not_valid_after_utc:
            return f"intermediate certificate is outside its validity period: {_cn(inter)}"
    if not roots:
        return "no trusted root certificate given"
    # A chain that reaches none of the trusted roots: say so plainly instead of a path error.
    top = ([leaf, *intermediates])[-1]
    if not any(_issued_by(c, r) for c in (leaf, *intermediates) for r in roots) and not any(
        top == r for r in roots
    ):
        trusted = ", ".join(f"{_cn(r)} [{_fingerprint(r)}]" for r in roots)
        return (
            f"certificate chain does not lead to the trusted root: {_cn(top)} was not issued "
            f"by any trusted root (trusted: {trusted})"
        )
    ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().require_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _code_signing
    )
    verifier = (
        PolicyBuilder()
        .store(Store(roots))
        .time(now)
        .max_chain_depth(4)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return f"certificate chain rejected: {exc}"
    except (ValueError, x509.UnsupportedGeneralNameType) as exc:
        return f"certificate chain rejected: {exc}"
    return None


def _verify_dsse(envelope: Envelope, cert: x509.Certificate) -> str | None:
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        return f"wrong payload type {envelope.payload_type!r}, expected {INTOTO_PAYLOAD_TYPE}"
    if len(envelope.signatures) != 1:
        return f"DSSE envelope must hold exactly one signature, found {len(envelope.signatures)}"
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "signing certificate does not hold an ECDSA key"
    try:
        key.verify(envelope.signatures[0].sig, envelope.pae(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "DSSE signature does not verify against the signing certificate (payload or signature altered)"
    return None


def _parse_statement(payload: bytes) -> SignedStatement | str:
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "signed payload is not JSON"
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE:
        return f"signed payload is not an in-toto Statement v1 (_type {STATEMENT_TYPE})"
    if data.get("predicateType") != PREDICATE_TYPE:
        return f"statement predicateType {data.get('predicateType')!r} is not {PREDICATE_TYPE}"
    predicate = data.get("predicate")
    build = predicate.get("buildDefinition") if isinstance(predicate, dict) else None
    if not isinstance(build, dict) or build.get("buildType") != BUILD_TYPE:
        return f"statement buildType is not {BUILD_TYPE}"
    subjects: dict[str, str] = {}
    raw_subjects = data.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        return "statement has no subjects"
    for s in raw_subjects:
        name = s.get("name") if isinstance(s, dict) else None
        digest = s.get("digest") if isinstance(s, dict) else None
        sha = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(name, str) or not isinstance(sha, str) or name in subjects:
            return "statement subject without a name and sha256 digest, or listed twice"
        subjects[name] = sha
    if INDEX_NAME not in subjects:
        return f"statement does not cover {INDEX_NAME}"
    commit = repository = ""
    for dep in build.get("resolvedDependencies") or []:
        if isinstance(dep, dict) and isinstance(dep.get("digest"), dict) and "gitCommit" in dep["digest"]:
            commit = str(dep["digest"]["gitCommit"])
            repository = str(dep.get("uri", "")).removeprefix("git+")
    ext = build.get("externalParameters")
    internal = build.get("internalParameters")
    compiler = internal.get("compiler") if isinstance(internal, dict) else None
    return SignedStatement(
        subjects=subjects,
        workspace=str(ext.get("workspace", "")) if isinstance(ext, dict) else "",
        commit=commit,
        repository=repository,
        compiler_version=str(compiler.get("version", "")) if isinstance(compiler, dict) else "",
        dirty=isinstance(internal, dict) and internal.get("gitTreeDirty") is True,
    )


def check_statement_and_tree(payload: bytes, rendered: Path, label: str, result: VerifyResult) -> None:
    """Compare a verified statement with the tree on disk; fills `result`."""
    statement = _parse_statement(payload)
    if isinstance(statement, str):
        result.diagnostics.append(Diagnostic("M804", statement, _where(label, BUNDLE_NAME)))
        return
    result.workspace, result.commit = statement.workspace, statement.commit
    result.repository, result.compiler_version = statement.repository, statement.compiler_version
    result.dirty = statement.dirty
    on_disk = hash_tree(rendered)
    index_digest = on_disk.digests.get(INDEX_NAME)
    if index_digest is not None and index_digest != statement.subjects[INDEX_NAME]:
        result.diagnostics.append(
            Diagnostic(
                "M805",
                f"{INDEX_NAME} is not the one that was signed: the signature belongs to another "
                f"build, or {INDEX_NAME} was edited",
                _where(label, INDEX_NAME),
                hint="recompile and sign again, or restore the signed output",
            )
        )
    problems = [
        p
        for p in compare(on_disk, statement.subjects)
        if not (p.path == INDEX_NAME and p.kind == "changed" and result.diagnostics)
    ]
    for p in problems[:_MAX_LISTED]:
        result.diagnostics.append(Diagnostic("M805", p.message, _where(label, p.path)))
    if len(problems) > _MAX_LISTED:
        result.diagnostics.append(
            Diagnostic("M805", f"… and {len(problems) - _MAX_LISTED} more differences", label)
        )
    if index_digest == statement.subjects[INDEX_NAME]:
        # The index is authentic; its file list must be exactly the signed subjects.
        try:
            index = parse_index(read_regular(rendered / INDEX_NAME, _MAX_INDEX_BYTES))
        except (OSError, IndexFormatError) as exc:
            result.diagnostics.append(
                Diagnostic("M805", f"cannot read the signed {INDEX_NAME}: {exc}", _where(label, INDEX_NAME))
            )
            return
        if {**index.files, INDEX_NAME: index.sha256} != statement.subjects:
            result.diagnostics.append(
                Diagnostic(
                    "M804",
                    f"statement subjects disagree with {INDEX_NAME}",
                    _where(label, INDEX_NAME),
                )
            )
    result.files = len(statement.subjects) - 1


def verify_pki(
    rendered: Path,
    roots: list[x509.Certificate],
    *,
    now: dt.datetime | None = None,
    label: str = "",
) -> VerifyResult:
    """Verify against an organisation root: chain, DSSE signature, then the tree."""
    label = label or str(rendered)
    now = now or dt.datetime.now(dt.UTC)
    result = VerifyResult(method="pki")
    where = _where(label, BUNDLE_NAME)
    if not roots:
        result.diagnostics.append(Diagnostic("M803", "trust file holds no PEM certificate"))
        return result
    bundle, diag = load_bundle(rendered, label)
    if bundle is None:
        result.diagnostics.append(diag or Diagnostic("M802", "signature bundle unusable", where))
        return result
    if bundle.keyless:
        result.diagnostics.append(
            Diagnostic(
                "M803",
                "bundle was signed keyless (Sigstore); verify it with --identity and --issuer",
                where,
            )
        )
        return result
    leaf = bundle.certificates[0]
    result.signer = signer_identity(leaf)
    result.issuer = leaf.issuer.rfc4514_string()
    # The payload type is checked before the chain: it is the cheaper and more specific cause.
    if bundle.envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        result.diagnostics.append(Diagnostic("M804", _verify_dsse(bundle.envelope, leaf) or "", where))
        return result
    cause = verify_chain(bundle.certificates, roots, now)
    if cause:
        result.diagnostics.append(Diagnostic("M803", cause, where))
        return result
    cause = _verify_dsse(bundle.envelope, leaf)
    if cause:
        result.diagnostics.append(Diagnostic("M804", cause, where))
        return result
    check_statement_and_tree(bundle.envelope.payload, rendered, label, result)
    return result
