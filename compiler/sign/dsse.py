"""DSSE (Dead Simple Signing Envelope) v1: pre-authentication encoding and the envelope.

The signature covers PAE(payloadType, payload), never the JSON envelope, so the envelope's
serialisation cannot be used to smuggle a different payload type past a verifier.
Spec: https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INTOTO_PAYLOAD_TYPE",
    "Envelope",
    "EnvelopeError",
    "Signature",
    "envelope_from_dict",
    "pae",
    "sign_envelope",
]

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """The envelope's JSON form is not a well-formed DSSE envelope."""


@dataclass(frozen=True, slots=True)
class Signature:
    sig: bytes
    keyid: str = ""


@dataclass(frozen=True, slots=True)
class Envelope:
    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def to_dict(self) -> dict[str, Any]:
        """The protobuf-specs JSON form (camelCase, bytes as standard base64)."""
        sigs: list[dict[str, str]] = []
        for s in self.signatures:
            d = {"sig": base64.b64encode(s.sig).decode()}
            if s.keyid:  # proto3 JSON omits empty strings
                d["keyid"] = s.keyid
            sigs.append(d)
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": sigs,
        }


def pae(payload_type: str, payload: bytes) -> bytes:
    """PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_envelope(
    payload: bytes, payload_type: str, sign: Callable[[bytes], bytes], keyid: str = ""
) -> Envelope:
    return Envelope(payload, payload_type, (Signature(sign(pae(payload_type, payload)), keyid),))


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"{what} is not valid base64") from exc


def envelope_from_dict(data: object) -> Envelope:
    if not isinstance(data, dict):
        raise EnvelopeError("dsseEnvelope is not an object")
    unknown = sorted(set(data) - {"payload", "payloadType", "signatures"})
    if unknown:
        raise EnvelopeError(f"dsseEnvelope has unknown field(s): {', '.join(unknown)}")
    payload_type = data.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise EnvelopeError("dsseEnvelope.payloadType is missing")
    payload = _b64(data.get("payload"), "dsseEnvelope.payload")
    raw_sigs = data.get("signatures")
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise EnvelopeError("dsseEnvelope.signatures is missing or empty")
    sigs = []
    for i, s in enumerate(raw_sigs):
        if not isinstance(s, dict):
            raise EnvelopeError(f"dsseEnvelope.signatures[{i}] is not an object")
        extra = sorted(set(s) - {"sig", "keyid"})
        if extra:
            raise EnvelopeError(f"dsseEnvelope.signatures[{i}] has unknown field(s): "
                                f"{', '.join(extra)}")
        keyid = s.get("keyid", "")
        if not isinstance(keyid, str):
            raise EnvelopeError(f"dsseEnvelope.signatures[{i}].keyid is not a string")
        sig = _b64(s.get("sig"), f"dsseEnvelope.signatures[{i}].sig")
        if not sig:
            raise EnvelopeError(f"dsseEnvelope.signatures[{i}].sig is empty")
        sigs.append(Signature(sig, keyid))
    return Envelope(payload, payload_type, tuple(sigs))
