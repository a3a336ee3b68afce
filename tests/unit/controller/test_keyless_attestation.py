"""Keyless attestation signing (--sign-keyless), up to where it needs Sigstore's servers: no
OIDC token, or an unusable one, is refused before the cluster is touched (exit 1, M807,
nothing applied, the token never printed); a signing failure at attest time keeps the
attestation, unsigned, and fails the reconcile."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.controller.attest import KeylessSigner
from compiler.controller.evidence import step_attest
from compiler.controller.reconcile import Options, State
from tests.controller.kit import REPO, Kit, configmap, make_pki, namespace

# every variable sigstore's ambient-credential detectors (the `id` package) look at
_AMBIENT = ("SIGSTORE_ID_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "GITHUB_ACTIONS", "GOOGLE_SERVICE_ACCOUNT_NAME", "BUILDKITE", "BUILDKITE_AGENT_ACCESS_TOKEN",
            "GITLAB_CI", "CIRCLECI")


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    tmp = tmp_path_factory.mktemp("keyless")
    return Kit(tmp, make_pki(tmp / "pki"), "wkeyless", tmp / "no-such-kubeconfig")


def _apply(kit: Kit, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a")])
    env = {k: v for k, v in os.environ.items() if k not in _AMBIENT}
    if token is not None:
        env["SIGSTORE_ID_TOKEN"] = token
    cmd = kit.command(tree, "--no-wait", *args)
    cmd[cmd.index("--sign-pki"):cmd.index("--sign-pki") + 2] = []
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=120, check=False)


def test_no_token_is_refused_before_the_cluster(kit: Kit) -> None:
    done = _apply(kit, "--sign-keyless")
    assert done.returncode == 1, done.stderr
    assert "error[M807]: no OIDC identity token for keyless signing of the attestation" in done.stderr
    assert "hint: run in GitHub Actions with `permissions: id-token: write`, or set SIGSTORE_ID_TOKEN" \
        in done.stderr
    assert "nothing was applied" in done.stderr
    assert "kubeconfig" not in done.stderr + done.stdout  # never got as far as the cluster
    assert not (kit.tmp / "audit.jsonl").exists() and not (kit.tmp / "att.json").exists()


def test_an_unusable_token_is_refused_and_never_printed(kit: Kit) -> None:
    secret = "not-a-jwt-" + "s3cr3t" * 4
    done = _apply(kit, "--sign-keyless", token=secret)
    assert done.returncode == 1
    assert "error[M807]: the OIDC token for keyless signing is unusable" in done.stderr
    assert secret not in done.stderr + done.stdout
    assert not (kit.tmp / "audit.jsonl").exists()


def test_keyless_and_pki_signers_are_exclusive(kit: Kit) -> None:
    done = _apply(kit, "--sign-keyless", "--sign-pki", str(kit.pki))
    assert done.returncode == 2
    assert "--sign-pki and --sign-keyless are mutually exclusive" in done.stderr


def test_a_failed_keyless_signature_keeps_the_attestation_unsigned_and_fails(tmp_path: Path) -> None:
    out = tmp_path / "att.json"
    opts = Options(rendered=tmp_path, env="staging", region="r1", signer=KeylessSigner("expired.or.forged"),
                   attestation_out=out)
    s = State(opts, connect=lambda: None, started=dt.datetime.now(dt.UTC))  # type: ignore[arg-type,return-value]
    s.inventory_id = "w.staging.r1"
    step_attest(s)
    assert s.result == "failed" and s.reason == "the attestation could not be signed"
    assert not s.attestation_signed
    assert any("could not be signed keyless (written unsigned): OIDC token rejected" in p for p in s.problems)
    assert b'"predicateType":"https://mentatlab.io/attestation/apply/v1"' in out.read_bytes()
    assert b'"mediaType"' not in out.read_bytes()  # the bare statement: no Sigstore bundle around it


def test_verify_attestation_keyless_names_a_pki_attestation(kit: Kit, tmp_path: Path) -> None:
    from compiler.controller.attest import Source, build_statement, sign_statement
    from compiler.sign import pki as pki_mod

    now = dt.datetime.now(dt.UTC)
    statement = build_statement(source=Source(True, "0" * 64), target={}, cluster={}, plan_counts={},
                                applied=[], pruned=[], result="succeeded", reason="", started=now,
                                finished=now)
    att = tmp_path / "att.json"
    att.write_bytes(sign_statement(statement, pki_mod.load_pki(kit.pki)))
    base = [sys.executable, "-m", "compiler.cli", "verify-attestation", str(att)]
    done = subprocess.run([*base, "--identity", "https://github.com/acme/flows/.github/workflows/x.yml@refs/heads/main",
                           "--issuer", "https://token.actions.githubusercontent.com"],
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 1
    assert "error[M900]: attestation was signed with an organisation PKI" in done.stderr
    assert "verify it with --trust ROOT_CERT" in done.stderr
    done = subprocess.run([*base, "--trust", str(kit.root)], capture_output=True, text=True, cwd=REPO,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(base, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert done.returncode == 2 and "pass --trust ROOT_CERT, or both --identity and --issuer" in done.stderr
