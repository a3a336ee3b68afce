"""Layering: only controller/client.py imports the kubernetes client, and no compiler stage
imports the controller."""

from __future__ import annotations

import ast
from pathlib import Path

COMPILER = Path(__file__).resolve().parents[3] / "compiler"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_client_imports_kubernetes() -> None:
    importers = sorted(str(p.relative_to(COMPILER)) for p in COMPILER.rglob("*.py")
                       if any(n == "kubernetes" or n.startswith("kubernetes.") for n in _imports(p)))
    assert importers == ["controller/client.py"]


def test_no_stage_imports_the_controller() -> None:
    outside = [p for p in COMPILER.rglob("*.py")
               if "controller" not in p.relative_to(COMPILER).parts[:1] and p.parent.name != "commands"]
    offenders = sorted(str(p.relative_to(COMPILER)) for p in outside
                       if any(n.startswith("compiler.controller") for n in _imports(p)))
    assert offenders == []
