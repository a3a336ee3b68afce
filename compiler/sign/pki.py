"""Organisation PKI for offline signing: root CA → intermediate CA → code-signing leaf.

All keys are ECDSA P-256. Layout of a PKI directory (the file names are a contract):

    root.pem  root.key                 self-signed root, 10 years; move root.key offline
    intermediate.pem  intermediate.key issues leaves, 5 years, pathLen 0, name-constrained
    signing.pem  signing.key           short-lived code-signing leaf (`pki issue` renews it)

Private keys are written 0600 (never world- or group-readable), optionally encrypted with a
passphrase taken from an environment variable. Signing goes through `KeyBackend`, so a key
held in an HSM or KMS can replace the file backend without touching the signer.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_LEAF_DAYS",
    "DEFAULT_ORG",
    "DEFAULT_SIGNER",
    "INTERMEDIATE_CERT",
    "INTERMEDIATE_KEY",
    "PASSPHRASE_ENV",
    "ROOT_CERT",
    "ROOT_KEY",
    "SIGNING_CERT",
    "SIGNING_KEY",
    "TRUSTED_ROOT",
    "FileKeyBackend",
    "KeyBackend",
    "Pki",
    "PkiError",
    "ca_key_usage",
    "init_pki",
    "issue_leaf",
    "load_pki",
    "signer_identity",
    "signing_key_usage",
    "trusted_root",
    "write_atomic",
]

ROOT_CERT, ROOT_KEY = "root.pem", "root.key"
INTERMEDIATE_CERT, INTERMEDIATE_KEY = "intermediate.pem", "intermediate.key"
SIGNING_CERT, SIGNING_KEY = "signing.pem", "signing.key"
TRUSTED_ROOT = "trusted_root.json"  # the same trust for cosign and other Sigstore verifiers
PASSPHRASE_ENV = "MENTAT_PKI_PASSPHRASE"
DEFAULT_ORG = "MentatLab"
DEFAULT_DOMAIN = "mentatlab.local"
DEFAULT_SIGNER = "mentatctl"
DEFAULT_LEAF_DAYS = 30
_ROOT_DAYS, _INTERMEDIATE_DAYS = 3650, 1825
_BACKDATE = dt.timedelta(minutes=5)  # tolerate small clock skew between signer and verifier
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class PkiError(Exception):
    """A PKI directory or key that cannot be used; the message says why and what to do."""


class KeyBackend(Protocol):
    """Where a signing key lives. Signatures are ECDSA over SHA-256, DER-encoded."""

    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class FileKeyBackend:
    """A PEM (PKCS#8) private key file, optionally passphrase-encrypted."""

    path: Path
    passphrase: bytes | None = None
    passphrase_env: str = PASSPHRASE_ENV  # only to name the variable in messages

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise PkiError(f"cannot read signing key {self.path}: {exc.strerror}") from exc
        try:
            key = serialization.load_pem_private_key(data, password=self.passphrase)
        except TypeError as exc:  # encrypted without a passphrase, or the reverse
            if self.passphrase is None:
                raise PkiError(f"signing key {self.path} is encrypted; set {self.passphrase_env}") from exc
            raise PkiError(f"signing key {self.path} is not encrypted; unset the passphrase") from exc
        except ValueError as exc:  # wrong passphrase or not a key: never echo the bytes
            raise PkiError(f"cannot load signing key {self.path} (wrong passphrase?)") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise PkiError(f"signing key {self.path} is not an ECDSA P-256 key")
        return key

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key().public_key()

    def sign(self, data: bytes) -> bytes:
        return self.private_key().sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass(frozen=True, slots=True)
class Pki:
    """A loaded PKI directory, ready to sign: the leaf, its chain and its key."""

    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    key: KeyBackend


def ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def signing_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _name(org: str, cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePublicKey,
    issuer_key: ec.EllipticCurvePublicKey,
    not_before: dt.datetime,
    days: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before - _BACKDATE)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False)
    )


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Atomic, with `mode` set on the descriptor before any byte is written (so a private key
    is never readable by others, not even for an instant)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise PkiError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise PkiError(f"{path} is not a PEM certificate") from exc


def signer_identity(cert: x509.Certificate) -> str:
    """The e-mail SAN a leaf signs as, else its subject."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return cert.subject.rfc4514_string()
    emails = san.get_values_for_type(x509.RFC822Name)
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return (emails or uris or [cert.subject.rfc4514_string()])[0]


def _check_label(value: str, what: str) -> None:
    if not _LABEL.fullmatch(value):
        raise PkiError(f"{what} {value!r} must be a lowercase DNS label (a-z, 0-9, -)")


def _check_domain(domain: str) -> None:
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2:
        raise PkiError(f"domain {domain!r} must be a DNS name such as example.org")
    for label in labels:
        _check_label(label, "domain label")


def _leaf(
    intermediate: x509.Certificate,
    intermediate_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    *,
    org: str,
    identity: str,
    now: dt.datetime,
    days: int,
) -> x509.Certificate:
    return (
        _builder(
            _name(org, identity),
            intermediate.subject,
            key.public_key(),
            intermediate_key.public_key(),
            now,
            days,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(signing_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(identity)]), critical=False)
        .sign(intermediate_key, hashes.SHA256())
    )


def _is_output_tree(d: Path) -> bool:
    try:
        with (d / "index.json").open("rb") as f:
            head = f.read(1 << 20)
        data = json.loads(head)
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict) and data.get("kind") == "Index" and data.get("apiVersion") == "mentatlab.io/v1"
    )


def init_pki(
    directory: Path,
    *,
    now: dt.datetime,
    org: str = DEFAULT_ORG,
    domain: str = DEFAULT_DOMAIN,
    signer: str = DEFAULT_SIGNER,
    leaf_days: int = DEFAULT_LEAF_DAYS,
    passphrase: bytes | None = None,
    force: bool = False,
) -> list[Path]:
    """Create the three-tier hierarchy in `directory`; returns the files written."""
    _check_domain(domain)
    _check_label(signer, "signer")
    if not 1 <= leaf_days <= 397:
        raise PkiError("leaf validity must be between 1 and 397 days")
    names = (ROOT_CERT, ROOT_KEY, INTERMEDIATE_CERT, INTERMEDIATE_KEY, SIGNING_CERT, SIGNING_KEY,
             TRUSTED_ROOT)
    existing = [n for n in names if (directory / n).exists()]
    if existing and not force:
        raise PkiError(f"{directory} already holds a PKI ({', '.join(existing)}); use --force to replace it")
    # `compile` replaces an output tree wholesale: keys inside one would leak or be wiped.
    for d in (directory.absolute(), *directory.absolute().parents):
        if _is_output_tree(d):
            raise PkiError(f"{directory} is inside an output tree ({d / 'index.json'}); keys never go there")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    root_key, inter_key, leaf_key = _new_key(), _new_key(), _new_key()
    root_name = _name(org, f"{org} Mentat Root CA")
    root = (
        _builder(root_name, root_name, root_key.public_key(), root_key.public_key(), now, _ROOT_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    # The intermediate may only issue code-signing leaves for identities in the org's domain.
    intermediate = (
        _builder(
            _name(org, f"{org} Mentat Signing CA"),
            root_name,
            inter_key.public_key(),
            root_key.public_key(),
            now,
            _INTERMEDIATE_DAYS,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(ca_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(
            x509.NameConstraints(permitted_subtrees=[x509.RFC822Name(domain)], excluded_subtrees=None),
            critical=True,
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf = _leaf(
        intermediate,
        inter_key,
        leaf_key,
        org=org,
        identity=f"{signer}@{domain}",
        now=now,
        days=leaf_days,
    )
    out = [
        (ROOT_KEY, _key_pem(root_key, passphrase), 0o600),
        (INTERMEDIATE_KEY, _key_pem(inter_key, passphrase), 0o600),
        (SIGNING_KEY, _key_pem(leaf_key, passphrase), 0o600),
        (ROOT_CERT, _cert_pem(root), 0o644),
        (INTERMEDIATE_CERT, _cert_pem(intermediate), 0o644),
        (SIGNING_CERT, _cert_pem(leaf), 0o644),
        (TRUSTED_ROOT, trusted_root(root, intermediate), 0o644),
    ]
    for name, data, mode in out:
        write_atomic(directory / name, data, mode)
    return [directory / name for name, _, _ in out]


def issue_leaf(
    directory: Path,
    *,
    now: dt.datetime,
    days: int = DEFAULT_LEAF_DAYS,
    signer: str | None = None,
    passphrase: bytes | None = None,
) -> x509.Certificate:
    """Renew the leaf: a fresh key and certificate from the intermediate, same identity."""
    if not 1 <= days <= 397:
        raise PkiError("leaf validity must be between 1 and 397 days")
    intermediate = _read_cert(directory / INTERMEDIATE_CERT)
    inter_key_backend = FileKeyBackend(directory / INTERMEDIATE_KEY, passphrase)
    inter_key = inter_key_backend.private_key()
    if inter_key.public_key() != intermediate.public_key():
        raise PkiError(f"{INTERMEDIATE_KEY} does not belong to {INTERMEDIATE_CERT}")
    org_attrs = intermediate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    org = str(org_attrs[0].value) if org_attrs else DEFAULT_ORG
    if signer is not None:
        _check_label(signer, "signer")
        old = directory / SIGNING_CERT
        domain = signer_identity(_read_cert(old)).partition("@")[2] if old.exists() else ""
        identity = f"{signer}@{domain or DEFAULT_DOMAIN}"
    elif (directory / SIGNING_CERT).exists():
        identity = signer_identity(_read_cert(directory / SIGNING_CERT))
    else:
        identity = f"{DEFAULT_SIGNER}@{DEFAULT_DOMAIN}"
    key = _new_key()
    leaf = _leaf(intermediate, inter_key, key, org=org, identity=identity, now=now, days=days)
    # Key first: a crash in between leaves a key without its certificate, which load_pki
    # reports, instead of a certificate whose key is gone.
    write_atomic(directory / SIGNING_KEY, _key_pem(key, passphrase), 0o600)
    write_atomic(directory / SIGNING_CERT, _cert_pem(leaf), 0o644)
    return leaf


def trusted_root(root: x509.Certificate, intermediate: x509.Certificate) -> bytes:
    """The PKI as a Sigstore trusted root (`dev.sigstore.trustroot.v1.TrustedRoot`): one
    certificate authority whose chain is [intermediate, root], and no transparency log, CT log
    or timestamp authority (the PKI works offline). `cosign verify-blob-attestation
    --trusted-root` takes it; see docs for the whole command."""
    def der(c: x509.Certificate) -> dict[str, str]:
        return {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}

    org = root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    cn = intermediate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    doc = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [],
        "certificateAuthorities": [{
            "subject": {"organization": str(org[0].value) if org else "",
                        "commonName": str(cn[0].value) if cn else ""},
            "uri": "urn:mentatlab:pki",
            "certChain": {"certificates": [der(intermediate), der(root)]},
            "validFor": {"start": intermediate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "end": intermediate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")},
        }],
        "ctlogs": [],
        "timestampAuthorities": [],
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def load_pki(directory: Path, passphrase: bytes | None = None, passphrase_env: str = PASSPHRASE_ENV) -> Pki:
    if not directory.is_dir():
        raise PkiError(f"PKI directory {directory} does not exist (run `mentatctl pki init {directory}`)")
    root = _read_cert(directory / ROOT_CERT)
    intermediate = _read_cert(directory / INTERMEDIATE_CERT)
    leaf = _read_cert(directory / SIGNING_CERT)
    key_path = directory / SIGNING_KEY
    try:
        mode = key_path.stat().st_mode
    except OSError as exc:
        raise PkiError(f"cannot read signing key {key_path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise PkiError(f"signing key {key_path} is readable by others; chmod 600 it")
    key = FileKeyBackend(key_path, passphrase, passphrase_env)
    if key.public_key() != leaf.public_key():
        raise PkiError(f"{SIGNING_KEY} does not belong to {SIGNING_CERT} (renew with `pki issue`)")
    return Pki(root=root, intermediate=intermediate, leaf=leaf, key=key)
