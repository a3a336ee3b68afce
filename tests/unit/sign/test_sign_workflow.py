"""CI signs on main only, with the ambient OIDC token, and verifies what it signed."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[3] / ".github/workflows/sign.yml"


def test_sign_workflow_runs_on_main_only_with_id_token() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc[True] == {"push": {"branches": ["main"]}}  # YAML 1.1 reads `on` as True
    assert doc["permissions"] == {"contents": "read", "id-token": "write"}
    runs = [step.get("run", "") for step in doc["jobs"]["sign"]["steps"]]
    assert "mentatctl compile" in runs
    assert "mentatctl sign rendered --keyless" in runs
    verify = next(r for r in runs if r.startswith("mentatctl verify rendered"))
    assert "--identity" in verify and "--issuer https://token.actions.githubusercontent.com" in verify
    assert runs.index("mentatctl sign rendered --keyless") < runs.index(verify)
