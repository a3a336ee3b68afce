"""A malformed git remote is not a traceback during `sign` (issue 15): what cannot be parsed
as a URL is not recorded as the repository, and a token in it is never recorded."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.sign.statement import detect_context

MALFORMED = ["https://[::1/acme/flows.git", "https://bot:tok3n@[github.com/acme.git",
             "https://github.com:notaport/acme.git", "https://github.com:99999999/x.git",
             "http://[", "ssh://git@[fe80::1%eth0/x"]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is required (the CI image has it)")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    return tmp_path


@pytest.mark.parametrize("remote", MALFORMED)
def test_a_malformed_remote_is_left_out(repo: Path, remote: str) -> None:
    _git(repo, "remote", "add", "origin", remote)
    ctx = detect_context(repo, env={})
    assert ctx.repository == "" and "tok3n" not in repr(ctx)


def test_an_ipv6_remote_keeps_its_brackets(repo: Path) -> None:
    _git(repo, "remote", "add", "origin", "https://tok:3n@[2001:db8::1]:8443/acme/flows.git")
    assert detect_context(repo, env={}).repository == "https://[2001:db8::1]:8443/acme/flows.git"


def test_sign_with_a_malformed_remote_signs(repo: Path, tmp_path: Path) -> None:
    ws = repo / "ws"
    src = Path(__file__).resolve().parents[3]
    shutil.copytree(src / "flows", ws / "flows")
    shutil.copy(src / "mentat.yaml", ws / "mentat.yaml")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "c")
    _git(repo, "remote", "add", "origin", MALFORMED[1])
    run = CliRunner()
    assert run.invoke(main, ["compile", str(ws), "--no-cache"]).exit_code == 0
    pki = tmp_path / "pki"
    assert run.invoke(main, ["pki", "init", str(pki)]).exit_code == 0
    r = run.invoke(main, ["sign", str(ws / "rendered"), "--pki", str(pki)])
    assert r.exit_code == 0, r.output
    assert "tok3n" not in (ws / "rendered" / "index.sigstore.json").read_text()
    v = run.invoke(main, ["verify", str(ws / "rendered"), "--trust", str(pki / "root.pem"),
                          "--format", "json"])
    assert v.exit_code == 0 and json.loads(v.stdout)["ok"]
