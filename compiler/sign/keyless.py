"""Sigstore keyless signing and verification with the `sigstore` package.

Signing, in CI: the job's ambient OIDC token (GitHub Actions with `permissions: id-token:
write`) buys a short-lived Fulcio certificate for an ephemeral key; the DSSE envelope over
our statement is logged in Rekor, and the bundle carries the leaf certificate and the log
entry. Verification checks the bundle against Sigstore's trust root (TUF) with sigstore's
`Verifier` and an identity policy (certificate SAN + OIDC issuer), then compares the tree.

The `sigstore` import is deferred: it is heavy, and PKI signing and verifying never need it.
The OIDC token is a secret: it is never printed, logged or put in a diagnostic.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from compiler.diagnostics import Diagnostic
from compiler.sign.bundle import BUNDLE_NAME
from compiler.sign.dsse import INTOTO_PAYLOAD_TYPE
from compiler.sign.pki import signer_identity
from compiler.sign.signer import SignResult, prepare
from compiler.sign.statement import BuildContext
from compiler.sign.verify import VerifyResult, check_statement_and_tree, load_bundle

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig, TrustedRoot

__all__ = [
    "GITHUB_ISSUER",
    "TOKEN_ENV",
    "DsseVerifier",
    "KeylessSigned",
    "identity_token",
    "sign_keyless",
    "sign_statement_keyless",
    "verify_keyless",
]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_ENV = "SIGSTORE_ID_TOKEN"  # same variable the sigstore CLI reads


class DsseVerifier(Protocol):
    """What `verify_keyless` needs of sigstore's `Verifier` (lets tests supply the trust root)."""

    def verify_dsse(self, bundle: Any, policy: Any) -> tuple[str, bytes]: ...


def _failure(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _ambient_token() -> str | None:
    from sigstore.oidc import detect_credential

    return detect_credential()


@dataclass(slots=True)
class KeylessSigned:
    """A Sigstore bundle (JSON bytes) over one DSSE-wrapped in-toto statement, or why not."""

    bundle: bytes = b""
    signer: str = ""
    not_after: dt.datetime | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def identity_token(token: str | None = None) -> tuple[str | None, Diagnostic | None]:
    """The OIDC token to sign with: `token`, else $SIGSTORE_ID_TOKEN, else the CI's ambient
    credential; (None, why) when there is none. Never put the token in a message."""
    try:
        raw = token or os.environ.get(TOKEN_ENV) or _ambient_token()
    except Exception as exc:  # the ambient detectors make HTTP calls; any failure is reported
        return None, Diagnostic("M807", f"cannot obtain an ambient OIDC token: {_failure(exc)}")
    if not raw:
        return None, Diagnostic(
            "M807",
            "no OIDC identity token for keyless signing",
            hint=f"run in GitHub Actions with `permissions: id-token: write`, or set {TOKEN_ENV}",
        )
    return raw, None


def sign_statement_keyless(
    statement: bytes,
    *,
    token: str | None = None,
    staging: bool = False,
    trust_config: ClientTrustConfig | None = None,
    expect_identity: str = "",
    expect_issuer: str = "",
) -> KeylessSigned:
    """Sign an in-toto statement keyless: a short-lived Fulcio certificate for the token's
    identity, the DSSE envelope logged in Rekor. With `expect_*`, refuse a certificate for
    any other identity."""
    out = KeylessSigned()
    # Imported here, not at module level: keeps `mentatctl verify --trust` fast.
    from sigstore import dsse
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    raw, why = identity_token(token)
    if raw is None:
        out.diagnostics.append(why or Diagnostic("M807", "no OIDC identity token"))
        return out
    try:
        identity = IdentityToken(raw)
    except Exception as exc:
        out.diagnostics.append(Diagnostic("M807", f"OIDC token rejected: {_failure(exc)}"))
        return out
    try:
        config = trust_config or (ClientTrustConfig.staging() if staging else ClientTrustConfig.production())
        context = SigningContext.from_trust_config(config)
        with context.signer(identity, cache=True) as signer:
            bundle = signer.sign_dsse(dsse.Statement(statement))
    except Exception as exc:  # network boundary: Fulcio, Rekor, TUF, timestamping
        out.diagnostics.append(Diagnostic("M807", f"keyless signing failed: {_failure(exc)}"))
        return out
    cert = bundle.signing_certificate
    out.signer = signer_identity(cert)
    if expect_identity or expect_issuer:
        from sigstore.verify.policy import Identity, OIDCIssuer

        policy = (
            Identity(identity=expect_identity, issuer=expect_issuer or None)
            if expect_identity
            else OIDCIssuer(expect_issuer)
        )
        try:
            policy.verify(cert)
        except Exception as exc:
            out.diagnostics.append(
                Diagnostic(
                    "M807",
                    f"signed as {out.signer}, which spec.signing does not expect: {_failure(exc)}",
                    hint="sign from the workflow and branch spec.signing names",
                )
            )
            return out
    out.bundle = (bundle.to_json() + "\n").encode()
    out.not_after = cert.not_valid_after_utc
    return out


def sign_keyless(
    rendered: Path,
    ctx: BuildContext,
    *,
    token: str | None = None,
    staging: bool = False,
    trust_config: ClientTrustConfig | None = None,
    expect_identity: str = "",
    expect_issuer: str = "",
    label: str = "",
) -> SignResult:
    """Sign; with `expect_*` (the workspace's spec.signing), refuse a certificate for any
    other identity, so a run from the wrong workflow or branch fails here, not at deploy."""
    result = SignResult()
    prepared, diags = prepare(rendered, ctx, label)
    if prepared is None:
        result.diagnostics = diags
        return result
    signed = sign_statement_keyless(prepared.statement, token=token, staging=staging,
                                    trust_config=trust_config, expect_identity=expect_identity,
                                    expect_issuer=expect_issuer)
    result.signer = signed.signer
    if signed.diagnostics:
        result.diagnostics = signed.diagnostics
        return result
    result.bundle = signed.bundle
    result.files = len(prepared.index.files)
    result.not_after = signed.not_after
    return result


def verify_keyless(
    rendered: Path,
    identity: str,
    issuer: str,
    *,
    staging: bool = False,
    offline: bool = False,
    trusted_root: TrustedRoot | None = None,
    verifier: DsseVerifier | None = None,
    label: str = "",
) -> VerifyResult:
    label = label or str(rendered)
    where = f"{label.rstrip('/')}/{BUNDLE_NAME}"
    result = VerifyResult(method="keyless")
    parsed, diag = load_bundle(rendered, label)
    if parsed is None:
        result.diagnostics.append(diag or Diagnostic("M802", "signature bundle unusable", where))
        return result
    if not parsed.keyless:
        result.diagnostics.append(
            Diagnostic(
                "M803",
                "bundle was signed with an organisation PKI (no transparency log entry); "
                "verify it with --trust ROOT_CERT",
                where,
            )
        )
        return result
    if parsed.envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        result.diagnostics.append(
            Diagnostic(
                "M804",
                f"wrong payload type {parsed.envelope.payload_type!r}, expected {INTOTO_PAYLOAD_TYPE}",
                where,
            )
        )
        return result
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore.verify.policy import Identity

    try:
        bundle = Bundle.from_json(parsed.raw)
    except Exception as exc:
        result.diagnostics.append(
            Diagnostic("M802", f"signature bundle rejected by sigstore: {_failure(exc)}", where)
        )
        return result
    try:
        if verifier is None:
            if trusted_root is not None:
                verifier = Verifier(trusted_root=trusted_root)
            else:
                verifier = (
                    Verifier.staging(offline=offline) if staging else Verifier.production(offline=offline)
                )
        payload_type, payload = verifier.verify_dsse(bundle, Identity(identity=identity, issuer=issuer))
    except Exception as exc:  # sigstore's VerificationError and trust-root (TUF) failures alike
        result.diagnostics.append(Diagnostic("M807", f"keyless verification failed: {_failure(exc)}", where))
        return result
    if payload_type != INTOTO_PAYLOAD_TYPE:
        result.diagnostics.append(Diagnostic("M804", f"wrong payload type {payload_type!r}", where))
        return result
    result.signer, result.issuer = identity, issuer
    check_statement_and_tree(payload, rendered, label, result)
    return result
