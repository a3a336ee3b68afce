"""The Config Management Plugin as Argo CD runs it: the generate command of the rendered
plugin.yaml, in a fresh checkout of the example workspace, with the Application's target in
ARGOCD_ENV_MENTAT_TARGET. Its output is the rendered leaf's objects with the cluster-wide ones
(CRDs, admission policies), byte for byte the same dicts, in an order `kubectl apply` can take
on an empty cluster: Namespaces, then CRDs, then other cluster-scoped objects, then the rest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.render.order import rank

REPO = Path(__file__).resolve().parents[2]


def _key(o: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = o["metadata"]
    return (o["apiVersion"], o["kind"], meta.get("namespace", ""), meta["name"])


def _rendered(*dirs: str) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    out = {}
    for d in dirs:
        for p in sorted((REPO / "rendered" / d).glob("*.yaml")):
            if p.name != "kustomization.yaml":
                o = yaml.safe_load(p.read_text())
                out[_key(o)] = o
    return out


@pytest.mark.parametrize("target", ["staging/eu-west-1", "prod/us-east-1"])
def test_plugin_output_is_the_leaf_in_apply_order(tmp_path: Path, target: str) -> None:
    plugin = yaml.safe_load((REPO / "rendered/argocd/cmp/plugin.yaml").read_text())
    assert plugin["kind"] == "ConfigManagementPlugin"
    assert plugin["spec"]["discover"] == {"fileName": "mentat.yaml"}
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(REPO / "mentat.yaml", checkout)
    shutil.copytree(REPO / "flows", checkout / "flows")
    gen = plugin["spec"]["generate"]
    env = {**os.environ, "ARGOCD_ENV_MENTAT_TARGET": target,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([*gen["command"], *gen["args"]], cwd=checkout, env=env,
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    stream = list(yaml.safe_load_all(done.stdout))
    assert not (checkout / "rendered").exists()  # --stdout writes nothing
    want = _rendered(target, "crds", "policies")
    assert {_key(o): o for o in stream} == want
    assert len(stream) == len(want)
    ranks = [rank(o["kind"], o["apiVersion"]) for o in stream]
    assert ranks == sorted(ranks)
    assert stream[0]["kind"] == "Namespace"
    namespaces = {o["metadata"]["name"] for o in stream if o["kind"] == "Namespace"}
    seen: set[str] = set()
    for o in stream:
        ns = o["metadata"].get("namespace")
        assert ns is None or ns in seen, f"{o['kind']} {o['metadata']['name']} before its Namespace"
        if o["kind"] == "Namespace":
            seen.add(o["metadata"]["name"])
    assert seen == namespaces
