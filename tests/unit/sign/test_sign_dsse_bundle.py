"""DSSE encoding and the Sigstore bundle's JSON shape (protobuf-specs field names)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from sigstore import dsse as sigstore_dsse
from sigstore_models.bundle.v1 import Bundle as ProtoBundle

from compiler.sign import bundle as bundle_mod
from compiler.sign import signer as signer_mod
from compiler.sign.bundle import PKI_MEDIA_TYPE, BundleError, parse_bundle
from compiler.sign.dsse import (
    INTOTO_PAYLOAD_TYPE,
    Envelope,
    EnvelopeError,
    Signature,
    envelope_from_dict,
    pae,
)
from compiler.sign.pki import load_pki


def test_pae_matches_the_dsse_spec_example() -> None:
    # protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t/ü", "é".encode()) == b"DSSEv1 4 t/\xc3\xbc 2 \xc3\xa9"


def test_pae_agrees_with_sigstore() -> None:
    body = b'{"_type":"https://in-toto.io/Statement/v1"}'
    assert pae(INTOTO_PAYLOAD_TYPE, body) == sigstore_dsse._pae(INTOTO_PAYLOAD_TYPE, body)


def test_envelope_round_trip() -> None:
    env = Envelope(b"{}", INTOTO_PAYLOAD_TYPE, (Signature(b"\x01\x02", "k1"),))
    assert envelope_from_dict(env.to_dict()) == env
    assert env.to_dict() == {
        "payload": "e30=",
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{"sig": "AQI=", "keyid": "k1"}],
    }


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        ([], "not an object"),
        ({"payload": "e30=", "signatures": [{"sig": "AQI="}]}, "payloadType is missing"),
        (
            {"payload": "%%%", "payloadType": "t", "signatures": [{"sig": "AQI="}]},
            "not valid base64",
        ),
        ({"payload": "e30=", "payloadType": "t", "signatures": []}, "missing or empty"),
        ({"payload": "e30=", "payloadType": "t", "signatures": [{"sig": ""}]}, "sig is empty"),
        ({"payload": "e30=", "payloadType": "t", "signatures": [{"sig": 5}]}, "not a base64"),
        ({"payload": "e30=", "payloadType": "t", "signatures": [], "x": 1}, "unknown field"),
    ],
)
def test_malformed_envelopes_are_named(data: object, cause: str) -> None:
    with pytest.raises(EnvelopeError, match=cause):
        envelope_from_dict(data)


def test_pki_bundle_shape(signed: Path, pki_dir: Path) -> None:
    raw = (signed / "index.sigstore.json").read_bytes()
    data = json.loads(raw)
    # v0.2: the chain is allowed there, v0.3 allows only a single certificate
    assert data["mediaType"] == PKI_MEDIA_TYPE == "application/vnd.dev.sigstore.bundle+json;version=0.2"
    material = data["verificationMaterial"]
    assert set(material) == {"x509CertificateChain", "tlogEntries"}
    assert material["tlogEntries"] == []
    certs = [
        x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"]))
        for c in material["x509CertificateChain"]["certificates"]
    ]
    pki = load_pki(pki_dir)
    assert certs == [pki.leaf, pki.intermediate]  # leaf + intermediate, never the root
    assert data["dsseEnvelope"]["payloadType"] == INTOTO_PAYLOAD_TYPE
    assert raw.endswith(b"\n")


def test_pki_bundle_conforms_to_protobuf_specs_model(signed: Path) -> None:
    """sigstore-python's generated model of dev.sigstore.bundle.v1.Bundle accepts it as is."""
    model = ProtoBundle.from_json((signed / "index.sigstore.json").read_bytes())
    assert model.media_type == PKI_MEDIA_TYPE
    assert model.dsse_envelope is not None
    assert model.dsse_envelope.payload_type == INTOTO_PAYLOAD_TYPE
    assert len(model.verification_material.x509_certificate_chain.certificates) == 2


def test_parse_bundle_round_trip(signed: Path) -> None:
    parsed = parse_bundle((signed / "index.sigstore.json").read_bytes())
    assert not parsed.keyless
    assert len(parsed.certificates) == 2
    assert json.loads(parsed.envelope.payload)["_type"] == "https://in-toto.io/Statement/v1"


def _bundle(signed: Path) -> dict:
    return json.loads((signed / "index.sigstore.json").read_bytes())


@pytest.mark.parametrize(
    ("mutate", "cause"),
    [
        (lambda b: b.update(mediaType="application/json"), "mediaType 'application/json' is not"),
        (lambda b: b.pop("dsseEnvelope"), "no dsseEnvelope"),
        (lambda b: b.update(messageSignature={}), "messageSignature, not a DSSE envelope"),
        (lambda b: b.pop("verificationMaterial"), "no verificationMaterial"),
        (
            lambda b: b["verificationMaterial"].update(publicKey={"hint": "x"}),
            "exactly one of certificate",
        ),
        (
            lambda b: b["verificationMaterial"].update(
                x509CertificateChain={"certificates": [{"rawBytes": "AAAA"}]}
            ),
            "not a DER certificate",
        ),
        (
            lambda b: b["verificationMaterial"].update(x509CertificateChain={"certificates": []}),
            "has no certificates",
        ),
        (lambda b: b["verificationMaterial"].update(tlogEntries={}), "tlogEntries is not a list"),
        (lambda b: b["dsseEnvelope"].update(signatures=[]), "signatures is missing or empty"),
    ],
)
def test_malformed_bundles_are_named(signed: Path, mutate, cause: str) -> None:
    data = _bundle(signed)
    mutate(data)
    with pytest.raises(BundleError, match=cause):
        parse_bundle(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        (b"", "bundle is empty"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"mediaType": "application/vnd.dev', "truncated"),
        (b"mediaType: yaml", "not valid JSON"),
        (b" " * 2048, "larger than"),  # with the limit lowered to 1 KiB below
    ],
)
def test_unparseable_bundles_are_named(raw: bytes, cause: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_BYTES", 1024)
    with pytest.raises(BundleError, match=cause):
        parse_bundle(raw)


def test_sign_never_writes_a_bundle_verify_would_refuse(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signer_mod, "MAX_BUNDLE_BYTES", 1024)
    diag = signer_mod.write_signature(tmp_path, b"{" + b" " * 2048 + b"}")
    assert diag is not None and diag.code == "M801" and "more than verify reads" in diag.message
    assert list(tmp_path.iterdir()) == []
    assert signer_mod.write_signature(tmp_path, b"{}") is None  # within the limit: written


def test_a_v03_bundle_may_not_carry_a_chain(signed: Path) -> None:
    """sigstore-go (cosign) refuses it; so do we, whatever the signature says."""
    data = _bundle(signed)
    data["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.3+json"
    with pytest.raises(BundleError, match=r"v0\.3 bundle may not carry an x509CertificateChain"):
        parse_bundle(json.dumps(data).encode())
