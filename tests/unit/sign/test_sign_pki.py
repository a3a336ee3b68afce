"""`pki init` / `pki issue`: the hierarchy's extensions, key files, passphrases, renewal."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from compiler.sign.pki import (
    FileKeyBackend,
    PkiError,
    init_pki,
    issue_leaf,
    load_pki,
    signer_identity,
)
from compiler.sign.verify import verify_chain
from tests.unit.sign.signkit import NOW


def _ext(cert: x509.Certificate, cls: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(cls)


def test_init_writes_the_contracted_files(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    written = init_pki(d, now=NOW)
    names = {p.name for p in written}
    assert {"root.pem", "intermediate.pem", "signing.pem", "signing.key"} <= names
    assert names == {p.name for p in d.iterdir()}  # no temp files left behind
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for key in ("root.key", "intermediate.key", "signing.key"):
        assert stat.S_IMODE((d / key).stat().st_mode) == 0o600
        assert (d / key).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_hierarchy_extensions(pki_dir: Path) -> None:
    pki = load_pki(pki_dir)
    root, inter, leaf = pki.root, pki.intermediate, pki.leaf
    for cert in (root, inter, leaf):
        assert cert.public_key().curve.name == "secp256r1"
    bc = _ext(root, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 1
    bc = _ext(inter, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    assert not _ext(leaf, x509.BasicConstraints).value.ca
    for ca in (root, inter):
        ku = _ext(ca, x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature
    ku = _ext(leaf, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    assert list(_ext(leaf, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CODE_SIGNING]
    nc = _ext(inter, x509.NameConstraints)
    assert nc.critical and nc.value.permitted_subtrees == [x509.RFC822Name("acme.example")]
    assert signer_identity(leaf) == "ci@acme.example"
    assert leaf.not_valid_after_utc - NOW == dt.timedelta(days=30)
    assert _ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == (
        _ext(inter, x509.SubjectKeyIdentifier).value.digest
    )
    assert verify_chain((leaf, inter), [root], NOW) is None


def test_init_refuses_to_overwrite_keys(pki_dir: Path) -> None:
    before = (pki_dir / "root.key").read_bytes()
    with pytest.raises(PkiError, match="already holds a PKI"):
        init_pki(pki_dir, now=NOW)
    assert (pki_dir / "root.key").read_bytes() == before
    init_pki(pki_dir, now=NOW, force=True)
    assert (pki_dir / "root.key").read_bytes() != before


def test_init_refuses_an_output_tree(tree: Path) -> None:
    with pytest.raises(PkiError, match="output tree"):
        init_pki(tree, now=NOW)
    assert not (tree / "signing.key").exists()


@pytest.mark.parametrize(
    ("kwargs", "cause"),
    [
        ({"domain": "localhost"}, "DNS name"),
        ({"domain": "Acme.example"}, "lowercase DNS label"),
        ({"signer": "ci bot"}, "lowercase DNS label"),
        ({"leaf_days": 0}, "between 1 and 397"),
    ],
)
def test_init_validates_its_arguments(tmp_path: Path, kwargs: dict, cause: str) -> None:
    with pytest.raises(PkiError, match=cause):
        init_pki(tmp_path / "pki", now=NOW, **kwargs)


def test_passphrase_encrypts_every_key(tmp_path: Path) -> None:
    d = tmp_path / "pki"
    init_pki(d, now=NOW, passphrase=b"correct horse")
    for key in ("root.key", "intermediate.key", "signing.key"):
        assert (d / key).read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(PkiError, match="is encrypted; set MENTAT_PKI_PASSPHRASE"):
        load_pki(d)
    with pytest.raises(PkiError, match="wrong passphrase"):
        load_pki(d, b"wrong")
    assert load_pki(d, b"correct horse").key.sign(b"x")


def test_unencrypted_key_with_a_passphrase_is_reported(pki_dir: Path) -> None:
    with pytest.raises(PkiError, match="not encrypted"):
        FileKeyBackend(pki_dir / "signing.key", b"pass").private_key()


def test_issue_renews_the_leaf_with_a_new_key(pki_dir: Path) -> None:
    old = load_pki(pki_dir)
    later = NOW + dt.timedelta(days=25)
    leaf = issue_leaf(pki_dir, now=later, days=10)
    new = load_pki(pki_dir)
    assert new.leaf == leaf
    assert new.leaf.public_key() != old.leaf.public_key()
    assert signer_identity(leaf) == "ci@acme.example"
    assert leaf.not_valid_after_utc == later + dt.timedelta(days=10)
    assert verify_chain((new.leaf, new.intermediate), [new.root], later) is None
    assert stat.S_IMODE((pki_dir / "signing.key").stat().st_mode) == 0o600


def test_issue_can_change_the_signer_within_the_domain(pki_dir: Path) -> None:
    leaf = issue_leaf(pki_dir, now=NOW, signer="release")
    assert signer_identity(leaf) == "release@acme.example"


def test_load_rejects_a_key_that_does_not_match(pki_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_pki(other, now=NOW)
    (pki_dir / "signing.key").write_bytes((other / "signing.key").read_bytes())
    (pki_dir / "signing.key").chmod(0o600)
    with pytest.raises(PkiError, match=r"does not belong to signing\.pem"):
        load_pki(pki_dir)


def test_load_rejects_a_group_readable_key(pki_dir: Path) -> None:
    (pki_dir / "signing.key").chmod(0o640)
    with pytest.raises(PkiError, match="readable by others"):
        load_pki(pki_dir)


def test_load_names_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="does not exist"):
        load_pki(tmp_path / "nope")


def test_name_constraints_stop_identities_outside_the_domain(pki_dir: Path) -> None:
    """An intermediate key misused to issue for another domain does not verify."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pki = load_pki(pki_dir)
    inter_key = serialization.load_pem_private_key((pki_dir / "intermediate.key").read_bytes(), None)
    assert isinstance(inter_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    rogue = (
        x509.CertificateBuilder()
        .subject_name(pki.leaf.subject)
        .issuer_name(pki.intermediate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(pki.leaf.extensions.get_extension_for_class(x509.KeyUsage).value, True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name("ci@evil.example")]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(inter_key.public_key()), False)
        .sign(inter_key, hashes.SHA256())
    )
    cause = verify_chain((rogue, pki.intermediate), [pki.root], NOW)
    assert cause is not None and "name constraint" in cause, cause


def test_init_refuses_a_directory_inside_an_output_tree(tree: Path) -> None:
    with pytest.raises(PkiError, match="inside an output tree"):
        init_pki(tree / "keys", now=NOW)
    assert not (tree / "keys").exists()


def test_an_unrelated_index_json_above_is_fine(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text('{"name": "some web project"}')
    assert init_pki(tmp_path / "pki", now=NOW)
