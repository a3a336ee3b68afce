"""Throwaway certificates for one control plane, made with `cryptography`.

One CA signs the apiserver's serving certificate and every client certificate (the admin in
`system:masters`, the controller-manager and the scheduler as the users the bootstrap RBAC
policy names). The service-account key pair signs and checks service-account tokens. Nothing
here is meant to outlive the control plane it was made for.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Pki", "make_pki", "write_kubeconfig"]

_VALID = dt.timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Pki:
    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _issue(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, subject: x509.Name,
           key: ec.EllipticCurvePrivateKey, *, server: bool,
           sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALID)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                      content_commitment=False, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=False, crl_sign=False,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(ca_key, hashes.SHA256())


# The users the bootstrap RBAC policy binds to the controller-manager's and scheduler's roles.
CLIENTS = {
    "admin": ("mentatctl-testenv-admin", ["system:masters"]),
    "controller-manager": ("system:kube-controller-manager", []),
    "scheduler": ("system:kube-scheduler", []),
}


def make_pki(dir: Path) -> Pki:
    """A CA, the apiserver's serving certificate, one client certificate per CLIENTS entry
    and the service-account key pair, written as PEM files (keys 0600) into `dir`."""
    dir.mkdir(parents=True, exist_ok=True)
    pki = Pki(dir)
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mentatlab-testenv-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALID)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                       content_commitment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write(pki.ca_key, _pem_key(ca_key))

    key = _key()
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in (
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local")]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.0.0.1")]
    cert = _issue(ca, ca_key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                            "kube-apiserver")]),
                  key, server=True, sans=sans)
    pki.cert("apiserver").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write(pki.key("apiserver"), _pem_key(key))

    for name, (user, groups) in CLIENTS.items():
        key = _key()
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, user)]
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        cert = _issue(ca, ca_key, x509.Name(attrs), key, server=False)
        pki.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write(pki.key(name), _pem_key(key))

    sa = _key()
    _write(pki.sa_key, _pem_key(sa))
    pki.sa_pub.write_bytes(sa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return pki


def write_kubeconfig(path: Path, server: str, pki: Pki, client: str) -> Path:
    """A self-contained kubeconfig (certificates inlined) for one client of CLIENTS."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    text = f"""\
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: {server}
    certificate-authority-data: {b64(pki.ca)}
users:
- name: {client}
  user:
    client-certificate-data: {b64(pki.cert(client))}
    client-key-data: {b64(pki.key(client))}
contexts:
- name: testenv
  context: {{cluster: testenv, user: {client}}}
current-context: testenv
"""
    _write(path, text.encode())
    return path
