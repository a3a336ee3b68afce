"""Sigstore bundles in their protobuf-specs JSON form (`dev.sigstore.bundle.v1.Bundle`).

    {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json" (keyless)
                | "application/vnd.dev.sigstore.bundle+json;version=0.2" (organisation PKI),
     "verificationMaterial": {<one of> "certificate": {"rawBytes": b64 DER}
                                       "x509CertificateChain": {"certificates": [...]}
                                       "publicKey": {"hint": ...},
                              "tlogEntries": [...], "timestampVerificationData": {...}},
     "dsseEnvelope": {"payload": b64, "payloadType": ..., "signatures": [{"sig": b64}]}}

Keyless bundles (Fulcio) are v0.3: only the leaf in `certificate` plus a Rekor entry; the
verifier gets the CA from Sigstore's trust root. An organisation PKI bundle carries
`x509CertificateChain` = [leaf, intermediate] (never the root: the root is what the verifier
must bring) and no transparency-log entry, since it is meant to work offline. v0.3 forbids a
chain (sigstore-go and cosign refuse one), so a PKI bundle is v0.2, which carries it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from compiler.sign.dsse import Envelope, EnvelopeError, envelope_from_dict

__all__ = [
    "BUNDLE_NAME",
    "MAX_BUNDLE_BYTES",
    "MEDIA_TYPE",
    "PKI_MEDIA_TYPE",
    "BundleError",
    "ParsedBundle",
    "dump_bundle",
    "parse_bundle",
    "pki_bundle",
]

MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PKI_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle+json;version=0.2"
_V03 = frozenset({MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3"})
_ACCEPTED_MEDIA_TYPES = _V03 | {PKI_MEDIA_TYPE}
BUNDLE_NAME = "index.sigstore.json"
# The statement lists every signed file (~180 bytes each once base64'd into the envelope): a
# 50k-file tree signs to ~10 MiB. 256 MiB covers a million files, and is what verify reads
# of index.json too; anything larger is refused unparsed.
MAX_BUNDLE_BYTES = 256 * 1024 * 1024


class BundleError(ValueError):
    """The bundle is not a well-formed v0.2/v0.3 bundle with a DSSE envelope."""


@dataclass(frozen=True, slots=True)
class ParsedBundle:
    media_type: str
    certificates: tuple[x509.Certificate, ...]  # leaf first
    tlog_entries: int
    envelope: Envelope
    raw: bytes

    @property
    def keyless(self) -> bool:
        """Transparency-log backed (Sigstore keyless); an org PKI bundle has no log entry."""
        return self.tlog_entries > 0


def _der(cert: x509.Certificate) -> dict[str, str]:
    return {"rawBytes": base64.b64encode(cert.public_bytes(Encoding.DER)).decode()}


def pki_bundle(envelope: Envelope, leaf: x509.Certificate, chain: list[x509.Certificate]) -> dict[str, Any]:
    return {
        "mediaType": PKI_MEDIA_TYPE,
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": [_der(c) for c in (leaf, *chain)]},
            "tlogEntries": [],
        },
        "dsseEnvelope": envelope.to_dict(),
    }


def dump_bundle(bundle: dict[str, Any]) -> bytes:
    return (json.dumps(bundle, indent=2) + "\n").encode()


def _cert(entry: object, where: str) -> x509.Certificate:
    if not isinstance(entry, dict) or not isinstance(entry.get("rawBytes"), str):
        raise BundleError(f"{where} has no rawBytes")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(entry["rawBytes"], validate=True))
    except (binascii.Error, ValueError) as exc:
        raise BundleError(f"{where} is not a DER certificate") from exc


# Every field a v0.3 bundle may carry (protobuf-specs), by where it stands: anything else is
# refused, so nothing the verifier does not read can ride along in a bundle that verifies.
_FIELDS: dict[str, frozenset[str]] = {
    "bundle": frozenset({"mediaType", "verificationMaterial", "dsseEnvelope",
                         "messageSignature"}),
    "verificationMaterial": frozenset({"certificate", "x509CertificateChain", "publicKey",
                                       "tlogEntries", "timestampVerificationData"}),
    "certificate": frozenset({"rawBytes"}),
    "x509CertificateChain": frozenset({"certificates"}),
    "timestampVerificationData": frozenset({"rfc3161Timestamps"}),
    "rfc3161Timestamps[]": frozenset({"signedTimestamp"}),
    "tlogEntries[]": frozenset({"logIndex", "logId", "kindVersion", "integratedTime",
                                "inclusionPromise", "inclusionProof", "canonicalizedBody"}),
    "logId": frozenset({"keyId"}),
    "kindVersion": frozenset({"kind", "version"}),
    "inclusionPromise": frozenset({"signedEntryTimestamp"}),
    "inclusionProof": frozenset({"logIndex", "rootHash", "treeSize", "hashes", "checkpoint"}),
    "checkpoint": frozenset({"envelope"}),
}


def _strict(value: object, where: str, fields: str) -> dict[str, Any]:
    """`value` as an object holding only the fields known at `fields`."""
    if not isinstance(value, dict):
        raise BundleError(f"{where} is not a JSON object")
    unknown = sorted(set(value) - _FIELDS[fields])
    if unknown:
        raise BundleError(f"{where} has unknown field(s): {', '.join(unknown)}")
    return value


def _check_tlog(entries: list[Any]) -> None:
    for i, entry in enumerate(entries):
        where = f"verificationMaterial.tlogEntries[{i}]"
        entry = _strict(entry, where, "tlogEntries[]")
        for name in ("logId", "kindVersion", "inclusionPromise", "inclusionProof"):
            if name in entry:
                _strict(entry[name], f"{where}.{name}", name)
        proof = entry.get("inclusionProof")
        if isinstance(proof, dict) and "checkpoint" in proof:
            _strict(proof["checkpoint"], f"{where}.inclusionProof.checkpoint", "checkpoint")


def _check_timestamps(material: dict[str, Any], keyless: bool) -> None:
    """RFC 3161 timestamps are verified only by sigstore's keyless verifier: an organisation
    PKI bundle carrying any is refused rather than shown as verified without them."""
    if "timestampVerificationData" not in material:
        return
    where = "verificationMaterial.timestampVerificationData"
    data = _strict(material["timestampVerificationData"], where, "timestampVerificationData")
    stamps = data.get("rfc3161Timestamps", [])
    if not isinstance(stamps, list):
        raise BundleError(f"{where}.rfc3161Timestamps is not a list")
    for i, stamp in enumerate(stamps):
        stamp = _strict(stamp, f"{where}.rfc3161Timestamps[{i}]", "rfc3161Timestamps[]")
        if not isinstance(stamp.get("signedTimestamp"), str):
            raise BundleError(f"{where}.rfc3161Timestamps[{i}].signedTimestamp is not a string")
    if (stamps or data) and not keyless:
        raise BundleError(f"{where} is not verified for an organisation PKI bundle (it has no "
                          "timestamp authority): remove it")


def parse_bundle(raw: bytes) -> ParsedBundle:
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    if not raw.strip():
        raise BundleError("bundle is empty")
    try:
        text = raw.decode("utf-8")  # json.loads(bytes) would also guess UTF-16/32
    except UnicodeDecodeError as exc:
        raise BundleError("bundle is not UTF-8 text") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        cause = "truncated" if at_end else "not valid JSON"
        raise BundleError(f"bundle is {cause} ({exc.msg} at line {exc.lineno} col {exc.colno})") from exc
    if not isinstance(data, dict):
        raise BundleError("bundle is not a JSON object")
    if "messageSignature" in data:
        raise BundleError("bundle holds a messageSignature, not a DSSE envelope")
    data = _strict(data, "bundle", "bundle")
    media_type = data.get("mediaType")
    if media_type not in _ACCEPTED_MEDIA_TYPES:
        raise BundleError(f"bundle mediaType {media_type!r} is not {MEDIA_TYPE} or "
                          f"{PKI_MEDIA_TYPE}")
    if "dsseEnvelope" not in data:
        raise BundleError("bundle has no dsseEnvelope")
    material = data.get("verificationMaterial")
    if not isinstance(material, dict):
        raise BundleError("bundle has no verificationMaterial")
    material = _strict(material, "verificationMaterial", "verificationMaterial")
    forms = [k for k in ("certificate", "x509CertificateChain", "publicKey") if k in material]
    if len(forms) != 1:
        raise BundleError(
            "verificationMaterial must hold exactly one of certificate, x509CertificateChain, publicKey"
        )
    if forms[0] == "publicKey":
        raise BundleError("bundle is signed with a bare public key; a certificate is required")
    if forms[0] == "x509CertificateChain" and media_type in _V03:
        raise BundleError("a v0.3 bundle may not carry an x509CertificateChain (only v0.2 may)")
    if forms[0] == "certificate":
        certs: tuple[x509.Certificate, ...] = (
            _cert(_strict(material["certificate"], "verificationMaterial.certificate",
                          "certificate"), "verificationMaterial.certificate"),
        )
    else:
        chain = _strict(material["x509CertificateChain"],
                        "verificationMaterial.x509CertificateChain", "x509CertificateChain")
        entries = chain.get("certificates")
        if not isinstance(entries, list) or not entries:
            raise BundleError("x509CertificateChain has no certificates")
        if len(entries) > 8:
            raise BundleError("x509CertificateChain is longer than 8 certificates")
        certs = tuple(_cert(_strict(e, f"x509CertificateChain.certificates[{i}]", "certificate"),
                            f"x509CertificateChain.certificates[{i}]") for i, e in enumerate(entries))
    tlog = material.get("tlogEntries", [])
    if not isinstance(tlog, list):
        raise BundleError("verificationMaterial.tlogEntries is not a list")
    _check_tlog(tlog)
    _check_timestamps(material, keyless=bool(tlog))
    try:
        envelope = envelope_from_dict(data["dsseEnvelope"])
    except EnvelopeError as exc:
        raise BundleError(str(exc)) from exc
    return ParsedBundle(media_type, certs, len(tlog), envelope, raw)
