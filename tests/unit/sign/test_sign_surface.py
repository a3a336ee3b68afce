"""The public surface of compiler.sign is what each module's __all__ says."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["bundle", "dsse", "keyless", "pki", "signer", "statement", "tree", "verify"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(f"compiler.sign.{name}")
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
