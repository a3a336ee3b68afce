"""Where the compiler finds the files it ships: schemas and the default policy set.

They live at the repository's top level (DESIGN.md's fixed layout); a wheel carries them in
`compiler/data/` (pyproject.toml maps them there), an editable install or a checkout reads
them from the repository. `MENTAT_HOME` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "policies_dir", "schemas_dir"]


def home() -> Path:
    env = os.environ.get("MENTAT_HOME")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent
    bundled = package / "data"
    return bundled if (bundled / "schemas").is_dir() else package.parent


def schemas_dir() -> Path:
    return home() / "schemas"


def policies_dir() -> Path:
    return home() / "policies"
