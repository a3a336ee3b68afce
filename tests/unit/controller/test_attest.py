"""The apply attestation: an in-toto Statement, signed into a Sigstore bundle, verified."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509

from compiler.controller.attest import (
    PREDICATE_TYPE,
    AppliedObject,
    Source,
    build_statement,
    sign_statement,
    verify_attestation,
)
from compiler.sign import pki as pki_mod
from compiler.sign.bundle import PKI_MEDIA_TYPE
from compiler.sign.verify import load_trust_roots

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
INDEX = b'{"kind": "Index"}\n'


def _statement() -> dict[str, object]:
    return build_statement(
        source=Source(True, hashlib.sha256(INDEX).hexdigest(), "b" * 64, "ci@acme.example", "pki",
                      "c" * 40, "demo"),
        target={"environment": "staging", "region": "eu-west-1", "inventory": "demo.staging.eu-west-1"},
        cluster={"server": "https://127.0.0.1:6443", "context": "test"},
        plan_counts={"create": 1, "update": 0, "delete": 1, "noop": 0},
        applied=[AppliedObject("apps/v1", "Deployment", "app", "web", "u-1", "12", "d" * 64),
                 AppliedObject("v1", "Namespace", "", "app", "u-0", "3", "e" * 64)],
        pruned=[{"apiVersion": "v1", "kind": "ConfigMap", "namespace": "app", "name": "old"}],
        result="succeeded", reason="", started=NOW, finished=NOW + dt.timedelta(seconds=3),
    )


def test_statement_binds_tree_objects_source_and_result() -> None:
    st = _statement()
    assert st["predicateType"] == PREDICATE_TYPE
    assert st["subject"] == [
        {"name": "index.json", "digest": {"sha256": hashlib.sha256(INDEX).hexdigest()}},
        {"name": "apps/Deployment/app/web", "digest": {"sha256": "d" * 64}},
        {"name": "core/Namespace/_cluster/app", "digest": {"sha256": "e" * 64}},
    ]
    pred = st["predicate"]
    assert isinstance(pred, dict)
    assert pred["source"]["bundleDigest"] == {"sha256": "b" * 64}
    assert pred["source"]["signer"] == "ci@acme.example"
    assert pred["objects"][0] == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "app",
                                  "name": "web", "uid": "u-1", "resourceVersion": "12",
                                  "digest": {"sha256": "d" * 64}}
    assert pred["plan"]["delete"] == 1 and pred["result"] == "succeeded"
    assert pred["finishedOn"] == "2026-06-01T12:00:03Z"


def test_unsigned_source_is_recorded() -> None:
    src = Source(False, "a" * 64).to_dict()
    assert src == {"verified": False, "method": "unsigned", "treeDigest": {"sha256": "a" * 64},
                   "allowedUnsigned": True}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[x509.Certificate]]:
    d = tmp_path_factory.mktemp("pki")
    pki_mod.init_pki(d, now=NOW, org="Acme", domain="acme.example", signer="ci", force=True)
    return sign_statement(_statement(), pki_mod.load_pki(d)), load_trust_roots((d / "root.pem").read_bytes())


def test_signed_attestation_verifies_against_its_tree(signed: tuple[bytes, list[x509.Certificate]]) -> None:
    raw, roots = signed
    check = verify_attestation(raw, roots, NOW, INDEX)
    assert check.ok and check.problems == []
    assert check.signer == "ci@acme.example"
    assert check.to_dict()["result"] == "succeeded" and check.to_dict()["objects"] == 2


def test_another_tree_is_refused(signed: tuple[bytes, list[x509.Certificate]]) -> None:
    raw, roots = signed
    check = verify_attestation(raw, roots, NOW, b"other")
    assert not check.ok and "another rendered tree" in check.problems[0]


def test_an_altered_payload_is_refused(signed: tuple[bytes, list[x509.Certificate]]) -> None:
    raw, roots = signed
    bundle = json.loads(raw)
    payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    payload["predicate"]["result"] = "failed"
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    check = verify_attestation(json.dumps(bundle).encode(), roots, NOW)
    assert not check.ok and "does not verify" in check.problems[0]


def test_another_root_is_refused(signed: tuple[bytes, list[x509.Certificate]], tmp_path: Path) -> None:
    raw, _ = signed
    pki_mod.init_pki(tmp_path / "other", now=NOW, org="Evil", domain="evil.example", signer="ci")
    roots = load_trust_roots((tmp_path / "other" / "root.pem").read_bytes())
    check = verify_attestation(raw, roots, NOW)
    assert not check.ok and "trusted root" in check.problems[0]


def test_garbage_is_refused() -> None:
    check = verify_attestation(b"{", [], NOW)
    assert not check.ok and check.problems[0].startswith("attestation bundle rejected")


def test_bundle_has_the_form_of_the_signed_tree(signed: tuple[bytes, list[x509.Certificate]]) -> None:
    raw, _ = signed
    bundle = json.loads(raw)
    assert bundle["mediaType"] == PKI_MEDIA_TYPE
    assert len(bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]) == 2
