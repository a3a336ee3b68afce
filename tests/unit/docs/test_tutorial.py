"""docs/tutorial.md works as written: its shell blocks, run in order in one bash in an empty
directory with the installed mentatctl, succeed and end with a signed, verified tree; the
output it shows is what the CLI prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "tutorial.md"


def test_the_tutorial_runs(tmp_path: Path) -> None:
    text = DOC.read_text()
    script = "\n".join(re.findall(r"```sh\n(.*?)```", text, re.S))
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "mentatctl").is_file(), "install the package: pip install -e ."
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(tmp_path)}
    env.pop("MENTAT_PKI_PASSPHRASE", None)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    shown = re.search(r"```text\n(.*?)```", text, re.S)
    assert shown is not None
    for line in shown.group(1).splitlines():
        assert line in done.stdout + done.stderr, line
    hello = tmp_path / "hello"
    assert (hello / "rendered" / "index.sigstore.json").is_file()
    assert "signature no longer applies" in done.stderr
    assert done.stdout.count("exit code 1") == 2
