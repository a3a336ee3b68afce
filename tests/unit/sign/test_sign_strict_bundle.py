"""Bundles are parsed strictly: a field the verifier does not read is refused, and a
timestamp it cannot verify is not carried along by a bundle that verifies (issue 15)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from compiler.sign.bundle import BUNDLE_NAME, BundleError, parse_bundle
from compiler.sign.verify import VerifyResult, load_trust_roots, verify_pki
from tests.unit.sign.signkit import NOW

Edit = Callable[[dict[str, Any]], None]

STAMP = {"rfc3161Timestamps": [{"signedTimestamp": base64.b64encode(b"\x30\x00").decode()}]}


def _set(*path: str, value: Any) -> Edit:
    def edit(bundle: dict[str, Any]) -> None:
        node = bundle
        for key in path[:-1]:
            node = node[key] if not key.isdigit() else node[int(key)]  # type: ignore[index]
        node[path[-1]] = value
    return edit


EDITS: dict[str, Edit] = {
    "an unknown top-level field": _set("extra", value={"anything": 1}),
    "an unknown verificationMaterial field": _set("verificationMaterial", "note", value="x"),
    "an unverified timestampVerificationData": _set(
        "verificationMaterial", "timestampVerificationData", value=STAMP),
    "an empty timestampVerificationData with extras": _set(
        "verificationMaterial", "timestampVerificationData", value={"other": []}),
    "an unknown certificate field": _set(
        "verificationMaterial", "x509CertificateChain", "certificates", "0", "note", value="x"),
    "an unknown chain field": _set("verificationMaterial", "x509CertificateChain", "note",
                                   value="x"),
    "an unknown signature field": _set("dsseEnvelope", "signatures", "0", "cert", value="x"),
    "an unknown envelope field": _set("dsseEnvelope", "note", value="x"),
}


def _verify(tree: Path, root_pem: Path, now: dt.datetime = NOW) -> VerifyResult:
    return verify_pki(tree, load_trust_roots(root_pem.read_bytes()), now=now, label="rendered")


@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_bundle_with_fields_verify_does_not_read_is_refused(signed: Path, pki_dir: Path,
                                                              case: str) -> None:
    assert _verify(signed, pki_dir / "root.pem").ok
    bundle = json.loads((signed / BUNDLE_NAME).read_text())
    EDITS[case](bundle)
    (signed / BUNDLE_NAME).write_text(json.dumps(bundle))
    result = _verify(signed, pki_dir / "root.pem")
    assert not result.ok
    assert [d.code for d in result.diagnostics] == ["M802"], result.diagnostics


def test_keyless_shaped_entries_are_checked_field_by_field(signed: Path) -> None:
    bundle = json.loads((signed / BUNDLE_NAME).read_text())
    entry = {"logIndex": "1", "logId": {"keyId": "AA=="}, "kindVersion": {"kind": "dsse",
             "version": "0.0.1"}, "integratedTime": "1", "inclusionPromise":
             {"signedEntryTimestamp": "AA=="}, "inclusionProof": {"logIndex": "1",
             "rootHash": "AA==", "treeSize": "2", "hashes": [], "checkpoint": {"envelope": "x"}},
             "canonicalizedBody": "AA=="}
    bundle["verificationMaterial"]["tlogEntries"] = [entry]
    bundle["verificationMaterial"]["timestampVerificationData"] = STAMP
    assert parse_bundle(json.dumps(bundle).encode()).keyless  # known fields: sigstore verifies
    entry["inclusionProof"]["checkpoint"]["extra"] = 1
    with pytest.raises(BundleError, match="checkpoint has unknown field"):
        parse_bundle(json.dumps(bundle).encode())
    del entry["inclusionProof"]["checkpoint"]["extra"]
    entry["smuggled"] = True
    with pytest.raises(BundleError, match=r"tlogEntries\[0\] has unknown field"):
        parse_bundle(json.dumps(bundle).encode())
