"""A warm cache builds nothing; a binary that is not the one the stamp names is rebuilt."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testenv.build import _bin_dir, _fresh, binary, build, cache_root
from testenv.versions import recipe_for

pytestmark = pytest.mark.cluster  # builds etcd, as the control plane does


@pytest.fixture
def copied_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private cache root holding a copy of the built etcd and its stamp."""
    recipe = recipe_for("etcd")
    binary("etcd")
    src = cache_root() / "bin" / recipe.key
    monkeypatch.setenv("MENTAT_TESTENV_CACHE", str(tmp_path))
    shutil.copytree(src, tmp_path / "bin" / recipe.key, copy_function=shutil.copy2)
    return tmp_path


def test_warm_run_builds_nothing(copied_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(copied_cache))  # no `go`: a build would fail
    assert _fresh(recipe_for("etcd"))
    assert build([recipe_for("etcd")]) == [copied_cache / "bin" / recipe_for("etcd").key / "etcd"]


def test_a_wrong_binary_is_rebuilt(copied_cache: Path) -> None:
    recipe = recipe_for("etcd")
    target = _bin_dir(recipe) / "etcd"
    good = target.read_bytes()
    target.write_bytes(b"#!/bin/sh\necho 'etcd Version: 3.5.0'\n")  # another version's stand-in
    assert not _fresh(recipe)
    build([recipe])
    assert _fresh(recipe)
    assert target.read_bytes() == good  # -trimpath builds are reproducible
