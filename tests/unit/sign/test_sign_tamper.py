"""One test per way a signed output can be wrong; each asserts verify names the cause."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from compiler.sign.bundle import BUNDLE_NAME, dump_bundle, pki_bundle
from compiler.sign.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
from compiler.sign.pki import Pki
from compiler.sign.signer import prepare, sign_pki, write_signature
from compiler.sign.verify import VerifyResult, load_trust_roots, verify_pki
from tests.unit.sign.signkit import (
    CTX,
    DEFAULT_FILES,
    NOW,
    Chain,
    make_chain,
    sign_tree,
    write_tree,
)


@dataclass(frozen=True)
class MemoryKey:
    """A KeyBackend that is not a file: stands in for an HSM/KMS backend."""

    key: ec.EllipticCurvePrivateKey

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def _verify(tree: Path, root_pem: Path, now: dt.datetime = NOW) -> VerifyResult:
    return verify_pki(tree, load_trust_roots(root_pem.read_bytes()), now=now, label="rendered")


def _sign_with_chain(tree: Path, chain: Chain, now: dt.datetime = NOW) -> None:
    pki = Pki(chain.root, chain.intermediate, chain.leaf, MemoryKey(chain.leaf_key))
    result = sign_pki(tree, pki, CTX, now=now)
    assert result.diagnostics == []
    assert write_signature(tree, result.bundle) is None


def _root_pem(tmp_path: Path, chain: Chain) -> Path:
    from cryptography.hazmat.primitives.serialization import Encoding

    path = tmp_path / "chain-root.pem"
    path.write_bytes(chain.root.public_bytes(Encoding.PEM))
    return path


def _only(result: VerifyResult) -> str:
    assert not result.ok
    assert len(result.diagnostics) == 1, result.diagnostics
    return result.diagnostics[0].message


def test_untampered_output_verifies(signed: Path, pki_dir: Path) -> None:
    result = _verify(signed, pki_dir / "root.pem")
    assert result.ok, result.diagnostics
    assert result.files == len(DEFAULT_FILES)
    assert result.signer == "ci@acme.example"
    assert result.commit == "a" * 40
    assert result.repository == "https://github.com/acme/flows@refs/heads/main"
    assert result.workspace == "demo"


def test_changed_byte_in_rendered_file(signed: Path, pki_dir: Path) -> None:
    target = signed / "staging/eu-west-1/service-fetch.yaml"
    data = bytearray(target.read_bytes())
    data[3] ^= 0x01
    target.write_bytes(bytes(data))
    result = _verify(signed, pki_dir / "root.pem")
    msg = _only(result)
    assert msg.startswith("file changed since signing: staging/eu-west-1/service-fetch.yaml")
    assert result.diagnostics[0].file == "rendered/staging/eu-west-1/service-fetch.yaml"
    assert result.diagnostics[0].code == "M805"


def test_extra_file(signed: Path, pki_dir: Path) -> None:
    (signed / "staging/eu-west-1/backdoor.yaml").write_text("kind: Pod\n")
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "extra file not covered by the signature: staging/eu-west-1/backdoor.yaml"


def test_extra_file_even_in_a_new_directory(signed: Path, pki_dir: Path) -> None:
    (signed / "prod/us-east-1").mkdir(parents=True)
    (signed / "prod/us-east-1/x.yaml").write_text("kind: Pod\n")
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "extra file not covered by the signature: prod/us-east-1/x.yaml"


def test_deleted_file(signed: Path, pki_dir: Path) -> None:
    (signed / "crds/agents.mentatlab.io.yaml").unlink()
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "signed file is missing: crds/agents.mentatlab.io.yaml"


def test_swapped_bundle_from_another_build(tmp_path: Path, signed: Path, pki_dir: Path) -> None:
    other = write_tree(tmp_path / "other", {**DEFAULT_FILES, "crds/agents.mentatlab.io.yaml": b"v2\n"})
    sign_tree(other, pki_dir)
    shutil.copy(other / BUNDLE_NAME, signed / BUNDLE_NAME)
    result = _verify(signed, pki_dir / "root.pem")
    assert not result.ok
    first = result.diagnostics[0]
    assert first.message.startswith("index.json is not the one that was signed")
    assert "another build" in first.message
    assert any("crds/agents.mentatlab.io.yaml" in d.message for d in result.diagnostics)


def test_expired_leaf(signed: Path, pki_dir: Path) -> None:
    later = NOW + dt.timedelta(days=31)
    msg = _only(_verify(signed, pki_dir / "root.pem", now=later))
    assert msg.startswith("signing certificate expired on 2026-07-01")


def test_not_yet_valid_leaf(tmp_path: Path, tree: Path) -> None:
    chain = make_chain(leaf_not_before=NOW + dt.timedelta(days=10))
    _sign_with_chain(tree, chain, now=NOW + dt.timedelta(days=11))
    msg = _only(_verify(tree, _root_pem(tmp_path, chain), now=NOW))
    assert msg.startswith("signing certificate is not valid yet: valid from 2026-06-11")


def test_leaf_signed_by_another_root(tmp_path: Path, signed: Path) -> None:
    from compiler.sign.pki import init_pki

    init_pki(tmp_path / "other-pki", now=NOW, org="Acme", domain="acme.example", signer="ci")
    msg = _only(_verify(signed, tmp_path / "other-pki/root.pem"))
    assert msg.startswith("certificate chain does not lead to the trusted root")


def test_intermediate_without_ca_flag(tmp_path: Path, tree: Path) -> None:
    chain = make_chain(intermediate_ca=False)
    _sign_with_chain(tree, chain)
    msg = _only(_verify(tree, _root_pem(tmp_path, chain)))
    assert msg.startswith("intermediate certificate is not a CA (basicConstraints CA flag not set)")


def test_leaf_without_code_signing_eku(tmp_path: Path, tree: Path) -> None:
    chain = make_chain(leaf_eku=False)
    _sign_with_chain(tree, chain)
    msg = _only(_verify(tree, _root_pem(tmp_path, chain)))
    assert msg.startswith("signing certificate lacks the code-signing extended key usage")


def test_hand_built_valid_chain_verifies(tmp_path: Path, tree: Path) -> None:
    """The control for the three tests above: only the broken property makes them fail."""
    chain = make_chain()
    _sign_with_chain(tree, chain)
    assert _verify(tree, _root_pem(tmp_path, chain)).ok


def test_truncated_bundle(signed: Path, pki_dir: Path) -> None:
    raw = (signed / BUNDLE_NAME).read_bytes()
    (signed / BUNDLE_NAME).write_bytes(raw[: len(raw) // 2])
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg.startswith("signature bundle rejected: bundle is truncated")


def test_non_json_bundle(signed: Path, pki_dir: Path) -> None:
    (signed / BUNDLE_NAME).write_bytes(b"-----BEGIN PGP SIGNATURE-----\nxyz\n")
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg.startswith("signature bundle rejected: bundle is not valid JSON")


def test_missing_bundle(tree: Path, pki_dir: Path) -> None:
    msg = _only(_verify(tree, pki_dir / "root.pem"))
    assert msg == "output is not signed: index.sigstore.json is missing"


def test_wrong_payload_type(tmp_path: Path, tree: Path) -> None:
    """Correctly signed, but not an in-toto statement: a valid signature is not enough."""
    chain = make_chain()
    prepared, diags = prepare(tree, CTX)
    assert prepared is not None and not diags
    key = MemoryKey(chain.leaf_key)
    envelope = sign_envelope(prepared.statement, "application/json", key.sign)
    bundle = pki_bundle(envelope, chain.leaf, [chain.intermediate])
    assert write_signature(tree, dump_bundle(bundle)) is None
    msg = _only(_verify(tree, _root_pem(tmp_path, chain)))
    assert msg == f"wrong payload type 'application/json', expected {INTOTO_PAYLOAD_TYPE}"


def test_payload_altered_after_signing(signed: Path, pki_dir: Path) -> None:
    """Rewriting the statement to match a changed file breaks the DSSE signature instead."""
    bundle = json.loads((signed / BUNDLE_NAME).read_bytes())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (signed / BUNDLE_NAME).write_text(json.dumps(bundle))
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg.startswith("DSSE signature does not verify against the signing certificate")


def test_bundle_carrying_the_attacker_root(tmp_path: Path, signed: Path, pki_dir: Path) -> None:
    """A chain that includes its own self-signed root still has to reach the trusted one."""
    from compiler.sign.pki import init_pki, load_pki

    evil = load_pki(init_pki(tmp_path / "evil", now=NOW, signer="ci")[0].parent)
    prepared, _ = prepare(signed, CTX)
    assert prepared is not None
    envelope = sign_envelope(prepared.statement, INTOTO_PAYLOAD_TYPE, evil.key.sign)
    bundle = pki_bundle(envelope, evil.leaf, [evil.intermediate, evil.root])
    assert write_signature(signed, dump_bundle(bundle)) is None
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg.startswith("certificate chain does not lead to the trusted root")


def test_trust_file_without_certificate(signed: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "root.pem"
    bogus.write_text("not a certificate\n")
    msg = _only(_verify(signed, bogus))
    assert msg == "trust file holds no PEM certificate"


def test_symlink_in_output_is_rejected(signed: Path, pki_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("kind: Secret\n")
    (signed / "link.yaml").symlink_to(outside)
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "link.yaml is not a regular file (symlink or device)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_in_output_does_not_hang(signed: Path, pki_dir: Path) -> None:
    os.mkfifo(signed / "pipe.yaml")
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "pipe.yaml is not a regular file (symlink or device)"


def test_only_the_signature_file_sign_writes_is_not_content(signed: Path, pki_dir: Path) -> None:
    """index.sigstore.json is exempt by exact name; any other *.sigstore.json, at the root
    or below it, is content the signature must cover (a ClusterRoleBinding hides well in
    `rbac.sigstore.json`)."""
    assert _verify(signed, pki_dir / "root.pem").ok
    (signed / "rbac.sigstore.json").write_text("kind: ClusterRoleBinding\n")
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "extra file not covered by the signature: rbac.sigstore.json"
    (signed / "rbac.sigstore.json").unlink()
    shutil.copy(signed / BUNDLE_NAME, signed / "crds" / "x.sigstore.json")
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "extra file not covered by the signature: crds/x.sigstore.json"


def test_bundle_symlinked_to_an_endless_device_is_refused(signed: Path, pki_dir: Path) -> None:
    (signed / BUNDLE_NAME).unlink()
    (signed / BUNDLE_NAME).symlink_to("/dev/zero")
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg.startswith("cannot read the signature bundle")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_bundle_that_is_a_fifo_does_not_hang(signed: Path, pki_dir: Path) -> None:
    (signed / BUNDLE_NAME).unlink()
    os.mkfifo(signed / BUNDLE_NAME)
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "cannot read the signature bundle: index.sigstore.json is not a regular file"


def test_statement_naming_paths_outside_the_tree_opens_nothing(
    tmp_path: Path, signed: Path, pki_dir: Path
) -> None:
    """Subjects are compared by name against a directory walk; a hostile name is just missing."""
    from compiler.sign.pki import load_pki
    from compiler.sign.statement import canonical_json

    pki = load_pki(pki_dir)
    prepared, _ = prepare(signed, CTX)
    assert prepared is not None
    statement = json.loads(prepared.statement)
    statement["subject"].append({"name": "../../etc/passwd", "digest": {"sha256": "0" * 64}})
    envelope = sign_envelope(canonical_json(statement), INTOTO_PAYLOAD_TYPE, pki.key.sign)
    assert write_signature(signed, dump_bundle(pki_bundle(envelope, pki.leaf, [pki.intermediate]))) is None
    result = _verify(signed, pki_dir / "root.pem")
    messages = [d.message for d in result.diagnostics]
    assert "signed file is missing: ../../etc/passwd" in messages
    assert "statement subjects disagree with index.json" in messages


def test_envelope_with_two_signatures(signed: Path, pki_dir: Path) -> None:
    bundle = json.loads((signed / BUNDLE_NAME).read_bytes())
    sigs = bundle["dsseEnvelope"]["signatures"]
    bundle["dsseEnvelope"]["signatures"] = sigs + sigs
    (signed / BUNDLE_NAME).write_text(json.dumps(bundle))
    msg = _only(_verify(signed, pki_dir / "root.pem"))
    assert msg == "DSSE envelope must hold exactly one signature, found 2"


def test_leaf_that_is_a_ca(tmp_path: Path, tree: Path) -> None:
    chain = make_chain()
    # Sign with the intermediate as if it were the leaf: a CA must not sign content.
    _sign_with_chain(tree, Chain(chain.root, chain.intermediate, chain.intermediate, chain.intermediate_key))
    msg = _only(_verify(tree, _root_pem(tmp_path, chain)))
    assert msg.startswith("signing certificate is a CA certificate")
