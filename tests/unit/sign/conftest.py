"""Fixtures for sign/verify tests: an output tree, a PKI directory, a signed tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.sign import pki as pki_mod
from tests.unit.sign.signkit import DEFAULT_FILES, NOW, sign_tree, write_tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "rendered", DEFAULT_FILES)


@pytest.fixture
def pki_dir(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    pki_mod.init_pki(d, now=NOW, org="Acme", domain="acme.example", signer="ci")
    return d


@pytest.fixture
def signed(tree: Path, pki_dir: Path) -> Path:
    sign_tree(tree, pki_dir)
    return tree
