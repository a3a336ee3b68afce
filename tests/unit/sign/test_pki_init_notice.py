"""`pki init` says when it writes private keys unencrypted, and how to encrypt them; with a
passphrase it says nothing of the kind, and JSON reports `encrypted`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main


def test_unencrypted_keys_are_announced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENTAT_PKI_PASSPHRASE", raising=False)
    r = CliRunner().invoke(main, ["pki", "init", str(tmp_path / "pki"), "-q"])
    assert r.exit_code == 0
    assert "NOT encrypted (MENTAT_PKI_PASSPHRASE is not set)" in r.stderr
    assert "export MENTAT_PKI_PASSPHRASE=" in r.stderr and "--force" in r.stderr
    assert b"ENCRYPTED" not in (tmp_path / "pki" / "root.key").read_bytes()


def test_encrypted_keys_are_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTAT_PKI_PASSPHRASE", "correct horse battery staple")
    r = CliRunner().invoke(main, ["pki", "init", str(tmp_path / "pki")])
    assert r.exit_code == 0 and "NOT encrypted" not in r.stderr
    assert b"ENCRYPTED" in (tmp_path / "pki" / "root.key").read_bytes()


def test_json_says_encrypted_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENTAT_PKI_PASSPHRASE", raising=False)
    r = CliRunner().invoke(main, ["pki", "init", str(tmp_path / "pki"), "-o", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["encrypted"] is False
    assert "NOT encrypted" not in r.stderr  # JSON carries it; scripts parse stdout
