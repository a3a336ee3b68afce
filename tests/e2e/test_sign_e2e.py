"""End to end through the real CLI: compile the example workspace into tmp, `pki init`, `sign`,
`verify` OK, tamper, `verify` fails; a recompile that changes nothing keeps the signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "rendered"
    code, _, err = run("compile", REPO, "--out", out)
    assert code == 0, err
    return out


@pytest.fixture
def signed(compiled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.delenv("MENTAT_PKI_PASSPHRASE", raising=False)
    out = tmp_path / "rendered"
    code, _, err = run("compile", REPO, "--out", out)
    assert code == 0, err
    pki = tmp_path / "pki"
    assert run("pki", "init", pki)[0] == 0
    code, _, err = run("sign", out, "--pki", pki)
    assert code == 0, err
    return out, pki


def test_sign_then_verify_the_example_workspace(signed: tuple[Path, Path]) -> None:
    out, pki = signed
    code, stdout, err = run("verify", out, "--trust", pki / "root.pem", "--format", "json")
    assert code == 0, err
    data = json.loads(stdout)
    index = json.loads((out / "index.json").read_bytes())
    assert data["ok"] and data["files"] == len(index["files"]) > 0
    assert data["workspace"] == index["workspace"]
    assert data["signer"] == "mentatctl@mentatlab.local"


def test_tampered_example_output_fails(signed: tuple[Path, Path]) -> None:
    out, pki = signed
    deployment = next(out.glob("prod/*/deployment-*.yaml"))
    deployment.write_text(deployment.read_text().replace("replicas:", "replicas: 99 #", 1))
    code, stdout, err = run("verify", out, "--trust", pki / "root.pem")
    assert code == 1
    rel = deployment.relative_to(out).as_posix()
    assert f"file changed since signing: {rel}" in err
    assert "verification FAILED" in stdout


def test_recompile_without_changes_keeps_a_valid_signature(signed: tuple[Path, Path]) -> None:
    out, pki = signed
    assert run("compile", REPO, "--out", out)[0] == 0
    assert (out / "index.sigstore.json").is_file()
    assert run("verify", out, "--trust", pki / "root.pem")[0] == 0
    assert run("compile", REPO, "--out", out, "--check")[0] == 0  # the signature is not drift


def test_signing_leaves_the_compiled_bytes_alone(compiled: Path, signed: tuple[Path, Path]) -> None:
    out, _ = signed
    fresh = {p.relative_to(compiled): p.read_bytes() for p in compiled.rglob("*") if p.is_file()}
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert set(after) - set(fresh) == {Path("index.sigstore.json")}
    assert all(after[p] == fresh[p] for p in fresh)


def test_workspace_signing_block_is_validated(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "flows").mkdir(parents=True)
    text = (REPO / "mentat.yaml").read_text()
    (ws / "mentat.yaml").write_text(text + "  signing: {method: pki, pkiDir: keys/}\n")
    code, _, err = run("validate", ws)
    assert code == 1
    assert "pkiDir" in err
    (ws / "mentat.yaml").write_text(text + "  signing: {method: pki, pki: ../keys}\n")
    code, _, err = run("validate", ws)
    assert code == 0, err
