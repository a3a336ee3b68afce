"""The signed example is a real Sigstore bundle: the upstream cosign (built from its Go module
by testenv/) verifies it against the PKI's trusted root, as `mentatctl verify` does, and refuses
it once a signed file changes.

The command, as docs/ gives it:
    cosign verify-blob-attestation --bundle rendered/index.sigstore.json --new-bundle-format \\
      --trusted-root pki/trusted_root.json --certificate-identity mentatctl@mentatlab.local \\
      --certificate-oidc-issuer-regexp '.*' --insecure-ignore-tlog --insecure-ignore-sct \\
      --type https://slsa.dev/provenance/v1 rendered/index.json
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from testenv import binary

REPO = Path(__file__).resolve().parents[2]


def _mentatctl(*args: object) -> int:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False).exit_code


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("cosign")
    out, pki = base / "rendered", base / "pki"
    assert _mentatctl("compile", REPO, "--out", out) == 0
    assert _mentatctl("pki", "init", pki) == 0
    assert _mentatctl("sign", out, "--pki", pki) == 0
    return out, pki


def _cosign(out: Path, pki: Path, blob: Path, identity: str = "mentatctl@mentatlab.local"
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary("cosign")), "verify-blob-attestation",
         "--bundle", str(out / "index.sigstore.json"), "--new-bundle-format",
         "--trusted-root", str(pki / "trusted_root.json"),
         "--certificate-identity", identity, "--certificate-oidc-issuer-regexp", ".*",
         "--insecure-ignore-tlog", "--insecure-ignore-sct",
         "--type", "https://slsa.dev/provenance/v1", str(blob)],
        capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("rel", ["index.json", "prod/us-east-1/namespace-mentat-prod.yaml",
                                 "crds/customresourcedefinition-agents.mentatlab.io.yaml"])
def test_cosign_verifies_every_kind_of_signed_file(signed: tuple[Path, Path], rel: str) -> None:
    out, pki = signed
    proc = _cosign(out, pki, out / rel)
    assert proc.returncode == 0, proc.stderr
    assert "Verified OK" in proc.stderr + proc.stdout
    assert _mentatctl("verify", out, "--trust", pki / "root.pem") == 0


def test_cosign_refuses_a_changed_file(signed: tuple[Path, Path], tmp_path: Path) -> None:
    out, pki = signed
    changed = tmp_path / "namespace.yaml"
    changed.write_text((out / "prod/us-east-1/namespace-mentat-prod.yaml").read_text() + "# x\n")
    proc = _cosign(out, pki, changed)
    assert proc.returncode != 0
    assert "artifact digest does not match any digest in statement" in proc.stderr


def test_cosign_refuses_another_identity(signed: tuple[Path, Path]) -> None:
    out, pki = signed
    proc = _cosign(out, pki, out / "index.json", identity="someone-else@mentatlab.local")
    assert proc.returncode != 0
    assert "someone-else@mentatlab.local" in proc.stderr
