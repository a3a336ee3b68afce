"""Where the compiler finds the files it ships: schemas and the default policy set.

They live at the repository's top level (DESIGN.md's fixed layout) and are installed with
the package in editable mode; `MENTAT_HOME` points elsewhere for other installs.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "policies_dir", "schemas_dir"]


def home() -> Path:
    env = os.environ.get("MENTAT_HOME")
    return Path(env) if env else Path(__file__).resolve().parents[1]


def schemas_dir() -> Path:
    return home() / "schemas"


def policies_dir() -> Path:
    return home() / "policies"
