"""Sigstore keyless, exercised up to the network boundary.

Replaced, and only these: the HTTP calls to Fulcio (`FulcioSigningCert.post`), Rekor
(`RekorEntries.post`) and the timestamp authority, plus Fulcio's embedded-SCT check, since a
stand-in Fulcio cannot produce an SCT that Sigstore's real CT log keys accept. The trust
root is sigstore's real production one, loaded offline from the package's embedded copy.
Everything else (OIDC token parsing, CSR, DSSE signing, bundle assembly, the bundle's JSON,
sigstore's identity policy, our tree checks) runs for real.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sigstore._internal.fulcio.client import FulcioCertificateSigningResponse, FulcioSigningCert
from sigstore._internal.rekor.client import RekorEntries
from sigstore._internal.timestamp import TimestampAuthorityClient, TimestampError
from sigstore.models import ClientTrustConfig, TransparencyLogEntry

from compiler.sign.bundle import BUNDLE_NAME, parse_bundle
from compiler.sign.dsse import INTOTO_PAYLOAD_TYPE, pae
from compiler.sign.keyless import GITHUB_ISSUER, sign_keyless, verify_keyless
from compiler.sign.signer import prepare, write_signature
from compiler.sign.verify import load_trust_roots, verify_pki
from tests.unit.sign.signkit import CTX

WORKFLOW = "https://github.com/acme/flows/.github/workflows/sign.yml@refs/heads/main"
_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")


def _token() -> str:
    now = int(time.time())
    claims = {
        "iss": GITHUB_ISSUER,
        "aud": "sigstore",
        "sub": "repo:acme/flows:ref:refs/heads/main",
        "job_workflow_ref": "acme/flows/.github/workflows/sign.yml@refs/heads/main",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, "not-a-real-key-but-long-enough-for-hs256", algorithm="HS256")


class FakeSigstore:
    """Records what crosses the network boundary and answers like Fulcio and Rekor would."""

    def __init__(self) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-fulcio")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-fulcio")]))
            .public_key(self.ca_key.public_key())
            .serial_number(1)
            .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
            .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.csr: x509.CertificateSigningRequest | None = None
        self.token: str = ""
        self.rekor_request: dict[str, Any] | None = None

    def fulcio_post(self, csr: Any, identity: Any) -> Any:
        self.csr, self.token = csr, str(identity)
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(WORKFLOW)]), True)
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V1, GITHUB_ISSUER.encode()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()), False
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        return FulcioCertificateSigningResponse(cert, [self.ca])

    def rekor_post(self, payload: Any) -> TransparencyLogEntry:
        self.rekor_request = dict(payload)
        body = base64.b64encode(json.dumps(self.rekor_request).encode()).decode()
        leaf_hash = "ab" * 32
        return TransparencyLogEntry._from_v1_response({
            "24296fb24b8ad77a" + "00" * 24: {
                "body": body,
                "integratedTime": int(time.time()),
                "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
                "logIndex": 7,
                "verification": {
                    "signedEntryTimestamp": base64.b64encode(b"fake-set").decode(),
                    "inclusionProof": {
                        "logIndex": 7,
                        "rootHash": leaf_hash,
                        "treeSize": 8,
                        "hashes": [],
                        "checkpoint": "rekor.sigstore.dev - 1\n8\nq83vEjRWeJA=\n",
                    },
                },
            }
        })  # fmt: skip


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeSigstore:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    f = FakeSigstore()
    monkeypatch.setattr(FulcioSigningCert, "post", f.fulcio_post)
    monkeypatch.setattr(RekorEntries, "post", f.rekor_post)

    def no_tsa(_self: object, _sig: bytes) -> Any:
        raise TimestampError("timestamp authority unreachable (test)")

    monkeypatch.setattr(TimestampAuthorityClient, "request_timestamp", no_tsa)
    monkeypatch.setattr("sigstore.sign.verify_sct", lambda *a, **k: None)
    return f


@pytest.fixture
def trust(fake: FakeSigstore) -> ClientTrustConfig:
    return ClientTrustConfig.production(offline=True)


@pytest.fixture
def keyless_signed(tree: Path, fake: FakeSigstore, trust: ClientTrustConfig) -> Path:
    token = _token()
    result = sign_keyless(tree, CTX, token=token, trust_config=trust)
    assert result.diagnostics == []
    assert token.encode() not in result.bundle
    assert write_signature(tree, result.bundle) is None
    return tree


def test_keyless_bundle_shape(keyless_signed: Path, fake: FakeSigstore) -> None:
    raw = (keyless_signed / BUNDLE_NAME).read_bytes()
    data = json.loads(raw)
    assert data["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    material = data["verificationMaterial"]
    assert "certificate" in material and "x509CertificateChain" not in material  # leaf only
    assert len(material["tlogEntries"]) == 1
    assert material["tlogEntries"][0]["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}
    parsed = parse_bundle(raw)
    assert parsed.keyless
    prepared, _ = prepare(keyless_signed, CTX)
    assert prepared is not None
    # The payload is our statement byte for byte, signed by the key Fulcio certified.
    assert parsed.envelope.payload == prepared.statement
    assert parsed.envelope.payload_type == INTOTO_PAYLOAD_TYPE
    key = parsed.certificates[0].public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert fake.csr is not None and fake.csr.public_key() == key
    key.verify(parsed.envelope.signatures[0].sig, parsed.envelope.pae(), ec.ECDSA(hashes.SHA256()))
    assert parsed.envelope.pae() == pae(INTOTO_PAYLOAD_TYPE, prepared.statement)


def test_keyless_sends_the_token_to_fulcio_and_the_envelope_to_rekor(
    keyless_signed: Path, fake: FakeSigstore
) -> None:
    assert fake.token.count(".") == 2  # the JWT went to Fulcio, nowhere else
    assert fake.rekor_request is not None and fake.rekor_request["kind"] == "dsse"
    envelope = json.loads(fake.rekor_request["spec"]["proposedContent"]["envelope"])
    assert envelope["payloadType"] == INTOTO_PAYLOAD_TYPE


class PolicyOnlyVerifier:
    """Stands in for the Sigstore services' cryptographic checks (SET, inclusion proof, SCT),
    which need the real Fulcio/Rekor; sigstore's identity policy itself runs for real."""

    def verify_dsse(self, bundle: Any, policy: Any) -> tuple[str, bytes]:
        policy.verify(bundle.signing_certificate)
        envelope = bundle._dsse_envelope
        return envelope._inner.payload_type, envelope._inner.payload


def test_keyless_verify_ok(keyless_signed: Path) -> None:
    result = verify_keyless(keyless_signed, WORKFLOW, GITHUB_ISSUER, verifier=PolicyOnlyVerifier())
    assert result.ok, result.diagnostics
    assert result.method == "keyless" and result.files == 4
    assert result.signer == WORKFLOW and result.commit == "a" * 40


def test_keyless_wrong_identity(keyless_signed: Path) -> None:
    other = "https://github.com/evil/flows/.github/workflows/sign.yml@refs/heads/main"
    result = verify_keyless(keyless_signed, other, GITHUB_ISSUER, verifier=PolicyOnlyVerifier())
    assert [d.code for d in result.diagnostics] == ["M807"]
    assert "SANs do not match" in result.diagnostics[0].message


def test_keyless_wrong_issuer(keyless_signed: Path) -> None:
    result = verify_keyless(
        keyless_signed, WORKFLOW, "https://accounts.google.com", verifier=PolicyOnlyVerifier()
    )
    assert [d.code for d in result.diagnostics] == ["M807"]
    assert "OIDCIssuer does not match" in result.diagnostics[0].message


def test_keyless_tampered_tree(keyless_signed: Path) -> None:
    (keyless_signed / "crds/agents.mentatlab.io.yaml").write_text("x\n")
    result = verify_keyless(keyless_signed, WORKFLOW, GITHUB_ISSUER, verifier=PolicyOnlyVerifier())
    assert [d.code for d in result.diagnostics] == ["M805"]
    assert result.diagnostics[0].message.startswith(
        "file changed since signing: crds/agents.mentatlab.io.yaml"
    )


def test_forged_bundle_fails_sigstores_real_verifier_offline(
    keyless_signed: Path, trust: ClientTrustConfig
) -> None:
    """With the genuine production trust root, a bundle not from Fulcio/Rekor is rejected."""
    result = verify_keyless(keyless_signed, WORKFLOW, GITHUB_ISSUER, trusted_root=trust.trusted_root)
    assert [d.code for d in result.diagnostics] == ["M807"]
    assert result.diagnostics[0].message.startswith("keyless verification failed")
    assert "certificate chain" in result.diagnostics[0].message
    assert result.files == 0  # the tree is never compared with an untrusted statement


def test_keyless_bundle_refused_by_pki_verify(keyless_signed: Path, pki_dir: Path) -> None:
    result = verify_pki(keyless_signed, load_trust_roots((pki_dir / "root.pem").read_bytes()))
    assert result.diagnostics[0].message.startswith("bundle was signed keyless")


def test_pki_bundle_refused_by_keyless_verify(signed: Path) -> None:
    result = verify_keyless(signed, WORKFLOW, GITHUB_ISSUER, verifier=PolicyOnlyVerifier())
    assert result.diagnostics[0].message.startswith("bundle was signed with an organisation PKI")


def test_no_token_outside_ci(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGSTORE_ID_TOKEN", raising=False)
    monkeypatch.setattr("compiler.sign.keyless._ambient_token", lambda: None)
    result = sign_keyless(tree, CTX)
    assert [d.code for d in result.diagnostics] == ["M807"]
    assert "id-token: write" in result.diagnostics[0].hint
    assert not result.bundle


def test_malformed_token_is_named_not_echoed(tree: Path) -> None:
    result = sign_keyless(tree, CTX, token="eyJnot.a.jwt-secret-value")
    assert [d.code for d in result.diagnostics] == ["M807"]
    assert result.diagnostics[0].message.startswith("OIDC token rejected")
    assert "secret-value" not in result.diagnostics[0].message


def test_network_failure_is_a_diagnostic(
    tree: Path, fake: FakeSigstore, trust: ClientTrustConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_a: object) -> Any:
        raise ConnectionError("fulcio.sigstore.dev unreachable")

    monkeypatch.setattr(FulcioSigningCert, "post", down)
    result = sign_keyless(tree, CTX, token=_token(), trust_config=trust)
    assert [d.code for d in result.diagnostics] == ["M807"]
    assert "unreachable" in result.diagnostics[0].message


def test_sign_checks_the_identity_spec_signing_expects(
    tree: Path, fake: FakeSigstore, trust: ClientTrustConfig
) -> None:
    ok = sign_keyless(
        tree, CTX, token=_token(), trust_config=trust, expect_identity=WORKFLOW, expect_issuer=GITHUB_ISSUER
    )
    assert ok.diagnostics == [] and ok.bundle and ok.signer == WORKFLOW
    fork = WORKFLOW.replace("acme", "fork")
    bad = sign_keyless(tree, CTX, token=_token(), trust_config=trust, expect_identity=fork)
    assert [d.code for d in bad.diagnostics] == ["M807"]
    assert bad.diagnostics[0].message.startswith(f"signed as {WORKFLOW}, which spec.signing does not expect")
    assert not bad.bundle
