"""Builds fail loudly and say why: Go missing, a module the proxy does not serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from testenv.build import BuildError, build, go_version
from testenv.versions import Recipe


def test_go_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `go`
    with pytest.raises(BuildError, match=r"Go is not installed \(no `go` on PATH\)"):
        go_version()


def test_a_module_the_proxy_does_not_serve_is_named(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("MENTAT_TESTENV_CACHE", str(tmp_path))
    recipe = Recipe("nothing", "github.com/mentatlab/no-such-module-anywhere", "v0.0.1",
                    {"nothing": "github.com/mentatlab/no-such-module-anywhere/cmd/nothing"})
    with pytest.raises(BuildError) as e:
        build([recipe])
    assert "github.com/mentatlab/no-such-module-anywhere@v0.0.1" in str(e.value)
    assert not (tmp_path / "bin" / recipe.key / "nothing").exists()
