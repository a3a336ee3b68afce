"""Builders for sign/verify tests (conftest.py wraps them in fixtures): an output tree in
the documented index.json format, signing it, and certificate chains with one property broken
at a time (what `pki init` would never produce)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from compiler.sign import pki as pki_mod
from compiler.sign.signer import sign_pki, write_signature
from compiler.sign.statement import BuildContext

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
CTX = BuildContext(commit="a" * 40, repository="https://github.com/acme/flows", ref="refs/heads/main")

DEFAULT_FILES = {
    "staging/eu-west-1/deployment-fetch.yaml": b"apiVersion: apps/v1\nkind: Deployment\n",
    "staging/eu-west-1/service-fetch.yaml": b"apiVersion: v1\nkind: Service\n",
    "crds/agents.mentatlab.io.yaml": b"kind: CustomResourceDefinition\n",
    "bundles/echo-1.0.0/blobs/sha256/ab": b"\x00asm\x01\x00\x00\x00",
}


def write_tree(root: Path, files: dict[str, bytes], workspace: str = "demo") -> Path:
    """An output tree plus its index.json, exactly as `write` documents it."""
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    index = {
        "apiVersion": "mentatlab.io/v1",
        "kind": "Index",
        "compiler": {"name": "mentatctl", "version": "0.1.0"},
        "workspace": workspace,
        "files": [
            {"path": p, "sha256": hashlib.sha256(c).hexdigest(), "sources": ["flows/a.yaml"]}
            for p, c in sorted(files.items())
        ],
        "sources": [
            {"path": "flows/a.yaml", "sha256": hashlib.sha256(b"a").hexdigest()},
            {"path": "mentat.yaml", "sha256": hashlib.sha256(b"ws").hexdigest()},
        ],
    }
    (root / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return root


def sign_tree(tree: Path, pki_dir: Path, now: dt.datetime = NOW) -> None:
    result = sign_pki(tree, pki_mod.load_pki(pki_dir), CTX, now=now)
    assert result.diagnostics == []
    assert write_signature(tree, result.bundle) is None


# --- hand-built chains, for certificates `pki init` would never produce ------------------------


@dataclass
class Chain:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey
    intermediate_key: ec.EllipticCurvePrivateKey | None = None


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool | None,
    ku: x509.KeyUsage,
    eku: bool = True,
    san: bool = False,
    not_before: dt.datetime = NOW - dt.timedelta(days=1),
    not_after: dt.datetime = NOW + dt.timedelta(days=30),
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(ku, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca is not None:
        b = b.add_extension(
            x509.BasicConstraints(ca=ca, path_length=0 if ca and subject != issuer else None),
            critical=True,
        )
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.RFC822Name("ci@acme.example")]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_chain(
    *,
    intermediate_ca: bool = True,
    leaf_eku: bool = True,
    leaf_not_before: dt.datetime = NOW - dt.timedelta(days=1),
    leaf_not_after: dt.datetime = NOW + dt.timedelta(days=30),
) -> Chain:
    rk, ik, lk = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_ku, ee_ku = pki_mod.ca_key_usage(), pki_mod.signing_key_usage()
    root = _cert("Test Root", rk, "Test Root", rk, ca=True, ku=ca_ku, eku=False,
                 not_after=NOW + dt.timedelta(days=3650))  # fmt: skip
    inter = _cert("Test Intermediate", ik, "Test Root", rk, ca=intermediate_ca,
                  ku=ca_ku, not_after=NOW + dt.timedelta(days=1000))  # fmt: skip
    leaf = _cert("ci@acme.example", lk, "Test Intermediate", ik, ca=False, ku=ee_ku,
                 eku=leaf_eku, san=True, not_before=leaf_not_before,
                 not_after=leaf_not_after)  # fmt: skip
    return Chain(root, inter, leaf, lk, ik)
