"""The apply attestation verifies with cosign itself (built by testenv/ from its Go module):
`cosign verify-blob-attestation --new-bundle-format --trusted-root PKI/trusted_root.json`
against the rendered tree's index.json, and is refused by cosign for another tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

from compiler.controller.attest import PREDICATE_TYPE
from tests.controller.kit import Kit, configmap, namespace


def _cosign(kit: Kit, blob: Path) -> subprocess.CompletedProcess[str]:
    from testenv import binary

    return subprocess.run(
        [str(binary("cosign")), "verify-blob-attestation", "--bundle", str(kit.tmp / "att.json"),
         "--new-bundle-format", "--trusted-root", str(kit.pki / "trusted_root.json"),
         "--certificate-identity", "ci@test.example", "--certificate-oidc-issuer-regexp", ".*",
         "--insecure-ignore-tlog", "--insecure-ignore-sct", "--type", PREDICATE_TYPE, str(blob)],
        capture_output=True, text=True, timeout=120, check=False)


def test_cosign_verifies_the_apply_attestation(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a")])
    code, _, err = kit.apply(tree)
    assert code == 0, err
    done = _cosign(kit, tree / "index.json")
    assert done.returncode == 0, done.stderr
    assert "Verified OK" in done.stderr + done.stdout
    other = kit.tmp / "other-index.json"
    other.write_text("{}")
    assert _cosign(kit, other).returncode != 0
