"""Install anywhere: the built wheel and sdist carry schemas/ and policies/; the wheel,
installed into a fresh virtualenv (pip resolving its dependencies as a user's would), compiles
the example workspace from another directory byte for byte into what rendered/ holds, and its
policy gate has rules in it."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("schemas/mentatlab.io/v1/agent.json", "schemas/mentatlab.io/v1/policy.json",
           "policies/images.yaml", "policies/tests/image-pinned-by-digest.fail.yaml")


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _clean_env() -> dict[str, str]:
    """No trace of this checkout: no PYTHONPATH, no MENTAT_HOME, no active venv."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "MENTAT_HOME", "VIRTUAL_ENV", "PYTHONHOME")}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, REPO, cwd=REPO)  # sdist, then a wheel from it
    return out


def test_wheel_and_sdist_carry_schemas_and_policies(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in SHIPPED:
        assert f"compiler/data/{rel}" in names, rel
    assert not any(n.startswith(("schemas/", "policies/", "flows/", "rendered/")) for n in names)
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    for rel in SHIPPED:
        assert rel in members, rel


def test_installed_wheel_compiles_the_example_from_elsewhere(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    venv = tmp_path / "venv"
    env = _clean_env()
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, cwd=tmp_path, env=env)
    located = _run(venv / "bin" / "python", "-c", "import compiler; print(compiler.__file__)",
                   cwd=tmp_path, env=env).stdout
    assert located.startswith(str(venv)), located  # the wheel's copy, not this checkout

    ws = tmp_path / "elsewhere" / "ws"
    shutil.copytree(REPO / "flows", ws / "flows")
    shutil.copy(REPO / "mentat.yaml", ws / "mentat.yaml")
    mentatctl = venv / "bin" / "mentatctl"
    _run(mentatctl, "compile", cwd=ws, env=env)
    cmp = filecmp.dircmp(ws / "rendered", REPO / "rendered")
    _assert_identical(cmp, ignore={"index.sigstore.json"})

    _run(mentatctl, "validate", cwd=ws, env=env)
    rules = json.loads(_run(mentatctl, "policy", "list", "-o", "json", cwd=ws, env=env).stdout)
    assert len(rules["rules"]) >= 10
    tested = json.loads(_run(mentatctl, "policy", "test", "-o", "json", cwd=ws, env=env).stdout)
    assert tested["ok"] and len(tested["results"]) == 2 * len(rules["rules"])


def _assert_identical(cmp: filecmp.dircmp[str], ignore: set[str]) -> None:
    assert not [n for n in cmp.left_only + cmp.right_only if n not in ignore], cmp.report()
    # dircmp compares by stat first; compare the bytes to be sure
    _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)
    for sub in cmp.subdirs.values():
        _assert_identical(sub, ignore)
