"""Every Argo CD object the example renders (rendered/argocd/, and the plugin's
ApplicationSet in argocd/cmp/) passes Argo CD's own CRD schemas, run by node from the npm
package @kubernetes-models/argo-cd (tests/argocd/package.json and its lock file, installed
with `npm ci` on first use). A broken object fails the same check, so the validator is known
to bite."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = HERE / "node_modules" / "@kubernetes-models" / "argo-cd"


def _installed() -> None:
    """`npm ci` once per checkout (node_modules/ is git-ignored); the lock file pins it."""
    npm = shutil.which("npm")
    assert npm, "npm is required (Node.js 20+) to install Argo CD's schemas from the npm registry"
    lock = HERE / "package-lock.json"
    stamp = HERE / "node_modules" / ".package-lock.json"
    if MODELS.is_dir() and stamp.is_file() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, f"npm ci in tests/argocd failed:\n{done.stderr}"


def _validate(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is required (Node.js 20+) to run Argo CD's schema validators"
    _installed()
    done = subprocess.run([node, str(HERE / "validate.mjs")], input=json.dumps(objects),
                          capture_output=True, text=True, cwd=HERE, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _rendered() -> list[dict[str, Any]]:
    paths = sorted((REPO / "rendered/argocd").rglob("*.yaml"))
    docs = [yaml.safe_load(p.read_text()) for p in paths]
    return [d for d in docs if d.get("apiVersion") == "argoproj.io/v1alpha1"
            and d.get("kind") != "ConfigManagementPlugin"]


def test_rendered_argocd_objects_pass_argo_cds_schemas() -> None:
    objects = _rendered()
    kinds = {o["kind"] for o in objects}
    assert kinds == {"AppProject", "Application", "ApplicationSet"}
    assert any(o["metadata"]["name"].endswith("-cmp") for o in objects)  # the plugin's set
    results = _validate(objects)
    assert [r for r in results if not r["ok"]] == []
    assert len(results) == len(objects)


def test_a_broken_application_is_refused() -> None:
    app = next(o for o in _rendered() if o["kind"] == "Application")
    broken = json.loads(json.dumps(app))
    broken["spec"]["destination"] = "prod"  # must be an object
    del broken["spec"]["project"]
    (result,) = _validate([broken])
    assert not result["ok"]
    assert "destination" in result["error"] and "project" in result["error"]
