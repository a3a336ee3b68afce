"""The README's first set-up command, run literally in a fresh copy of the repository (only
what git tracks, no venv, no cache), installs the tool and compiles the example into exactly the
committed rendered/."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_first_setup_command_works_as_written(tmp_path: Path) -> None:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text[text.index("## Set up"):], re.S)
    assert block is not None
    first = block.group(1).splitlines()[0].split("  #")[0].strip()
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                             check=True).stdout.decode().split("\0")
    copy = tmp_path / "mentatlab"
    for rel in filter(None, tracked):
        if (REPO / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, copy / rel)
    shutil.rmtree(copy / "rendered")  # the command must make it
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "MENTAT_HOME", "PYTHONHOME")}
    done = subprocess.run(["bash", "-c", first], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_identical(filecmp.dircmp(copy / "rendered", REPO / "rendered"))


def _assert_identical(cmp: filecmp.dircmp[str]) -> None:
    assert not cmp.left_only and not [n for n in cmp.right_only if n != "index.sigstore.json"]
    _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)
    for sub in cmp.subdirs.values():
        _assert_identical(sub)
