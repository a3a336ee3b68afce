"""`mentatctl migrate`: rewrites in place, --check, and the files it must leave alone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from compiler.cli import main
from tests.unit.convert.test_mixed_workspace import OLD_AGENT, OLD_FLOW


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["migrate", *args])
    return r.exit_code, r.stdout, r.stderr


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*.yaml"))}


def test_migrates_in_place_then_nothing_is_left(make_ws: Any) -> None:
    root = make_ws(agents=OLD_AGENT, flow=OLD_FLOW)
    workspace_file = (root / "mentat.yaml").read_bytes()
    code, _, err = run("--check", str(root))
    assert code == 1 and "would migrate flows/agents.yaml (1 document)" in err
    code, _, err = run(str(root))
    assert code == 0 and "migrated flows/flow.yaml" in err
    assert "v1alpha1" not in (root / "flows/flow.yaml").read_text()
    assert (root / "mentat.yaml").read_bytes() == workspace_file
    code, out, _ = run("--check", str(root), "-o", "json")
    assert code == 0 and json.loads(out) == {"ok": True, "check": True, "files": [],
                                             "diagnostics": []}


def test_check_prints_the_diff_and_writes_nothing(make_ws: Any) -> None:
    root = make_ws(flow=OLD_FLOW)
    before = snapshot(root)
    code, out, _ = run("--check", str(root))
    assert code == 1 and "-  steps:\n+  nodes:" in out
    assert snapshot(root) == before


def test_already_v1_files_are_not_touched(make_ws: Any) -> None:
    root = make_ws()
    before = snapshot(root)
    code, _, err = run(str(root))
    assert code == 0 and "nothing to migrate" in err
    assert snapshot(root) == before  # same bytes, not even rewritten


def test_unknown_field_is_an_error_and_nothing_is_written(make_ws: Any) -> None:
    bad = OLD_FLOW.replace("  mode: service\n", "  mode: service\n  stepz: []\n")
    root = make_ws(agents=OLD_AGENT, flow=bad)
    before = snapshot(root)
    code, _, err = run(str(root))
    assert code == 1
    assert "flows/flow.yaml:6:3: error[M202]: unknown field 'stepz' in spec" in err
    assert "did you mean 'steps'?" in err and "nothing was migrated" in err
    assert snapshot(root) == before  # the valid agents file is not migrated either


def test_read_only_file_is_refused(make_ws: Any) -> None:
    root = make_ws(agents=OLD_AGENT, flow=OLD_FLOW)
    os.chmod(root / "flows/flow.yaml", 0o444)
    before = snapshot(root)
    code, out, _ = run(str(root), "--format", "json")
    payload = json.loads(out)
    assert code == 1 and not payload["ok"]
    assert [(d["code"], d["file"]) for d in payload["diagnostics"]] == [
        ("M702", "flows/flow.yaml")]
    assert "read-only" in payload["diagnostics"][0]["message"]
    assert snapshot(root) == before


def test_keeps_the_file_mode(make_ws: Any) -> None:
    root = make_ws(flow=OLD_FLOW)
    os.chmod(root / "flows/flow.yaml", 0o640)
    assert run(str(root))[0] == 0
    assert (root / "flows/flow.yaml").stat().st_mode & 0o777 == 0o640
    assert not [p for p in (root / "flows").iterdir() if p.name.startswith(".")]


def test_help_has_an_example() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "Example" in out
