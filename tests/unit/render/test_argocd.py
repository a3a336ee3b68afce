"""render/argocd.py through a whole compile: nothing without spec.argocd; with it, an
AppProject, CRDs and policies Applications per destination cluster, one ApplicationSet list
element per environment × region with its cluster from `environments[].cluster`, sync waves
in the order project → CRDs → policies → flows, and the plugin's files only with `cmp`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from compiler.pipeline import compile_workspace
from tests.conftest import WORKSPACE, MakeWs

WAVE = "argocd.argoproj.io/sync-wave"
ARGOCD = """\
  argocd: {repoURL: "https://git.example.com/platform.git", targetRevision: main, path: deploy/out}
"""
CLUSTERS = WORKSPACE.replace(
    "{name: prod, namespace: mentat-prod, regions: [us-east-1, eu-west-1]}",
    "{name: prod, namespace: mentat-prod, regions: [us-east-1, eu-west-1], "
    "cluster: {us-east-1: 'https://10.0.0.1:6443', eu-west-1: prod-eu}}")


def _objects(root: Path) -> dict[str, dict[str, Any]]:
    result = compile_workspace(root)
    assert result.ok, result.diagnostics
    return {p: yaml.safe_load(result.files[p]) for p in result.files
            if p.startswith("argocd/") and p.endswith(".yaml")}


def test_nothing_without_spec_argocd(make_ws: MakeWs) -> None:
    assert _objects(make_ws()) == {}


def test_destinations_and_waves(make_ws: MakeWs) -> None:
    objs = _objects(make_ws(workspace=CLUSTERS + ARGOCD))
    appset = objs["argocd/applicationset-test.yaml"]
    elements = appset["spec"]["generators"][0]["list"]["elements"]
    assert [(e["env"], e["region"], e["server"], e["name"]) for e in elements] == [
        ("staging", "eu-west-1", "https://kubernetes.default.svc", ""),
        ("prod", "us-east-1", "https://10.0.0.1:6443", ""),
        ("prod", "eu-west-1", "", "prod-eu")]
    assert appset["spec"]["template"]["spec"]["source"]["path"] == "deploy/out/{{.env}}/{{.region}}"
    crds = sorted(p for p in objs if "-crds-" in p)
    assert crds == ["argocd/application-test-crds-10-0-0-1-6443.yaml",
                    "argocd/application-test-crds-in-cluster.yaml",
                    "argocd/application-test-crds-prod-eu.yaml"]
    assert objs[crds[2]]["spec"]["destination"] == {"name": "prod-eu"}
    waves = {o["kind"] + ("/" + o["spec"]["source"]["path"] if o["kind"] == "Application"
                          else ""): int(o["metadata"]["annotations"][WAVE])
             for p, o in objs.items()
             if p.count("/") == 1 and not p.endswith("kustomization.yaml")}
    assert waves["AppProject"] < waves["Application/deploy/out/crds"] < waves["ApplicationSet"]
    project = objs["argocd/appproject-test.yaml"]["spec"]
    assert {"name": "prod-eu", "namespace": "mentat-prod"} in project["destinations"]
    assert not any(p.startswith("argocd/cmp/") for p in objs)
    root = objs["argocd/bootstrap/application-test-root.yaml"]["spec"]
    assert root["source"]["path"] == "deploy/out/argocd" and root["project"] == "default"


def test_plugin_files_with_cmp(make_ws: MakeWs) -> None:
    image = "ghcr.io/mentatlab/mentatctl@sha256:" + "c" * 64
    objs = _objects(make_ws(workspace=WORKSPACE + ARGOCD.replace(
        "path: deploy/out}", f"path: deploy/out, cmp: {{image: '{image}'}}}}")))
    plugin = objs["argocd/cmp/plugin.yaml"]
    assert "--target \"$ARGOCD_ENV_MENTAT_TARGET\"" in plugin["spec"]["generate"]["args"][0]
    assert yaml.safe_load(objs["argocd/cmp/configmap-mentatctl-cmp.yaml"]["data"]["plugin.yaml"]) \
        == plugin
    (sidecar,) = objs["argocd/cmp/argocd-repo-server-patch.yaml"]["spec"]["template"]["spec"][
        "containers"]
    assert sidecar["image"] == image
    assert sidecar["command"] == ["/var/run/argocd/argocd-cmp-server"]
    source = objs["argocd/cmp/applicationset-test-cmp.yaml"]["spec"]["template"]["spec"]["source"]
    assert source["plugin"]["env"] == [{"name": "MENTAT_TARGET", "value": "{{.env}}/{{.region}}"}]


def test_cluster_for_an_unknown_region_is_an_error(make_ws: MakeWs) -> None:
    root = make_ws(workspace=CLUSTERS.replace("eu-west-1: prod-eu}", "eu-west-2: prod-eu}"))
    result = compile_workspace(root)
    (diag,) = [d for d in result.diagnostics if d.severity == "error"]
    assert diag.code == "M500" and "has no region 'eu-west-2'" in diag.message
    assert (diag.file, diag.line) == ("mentat.yaml", 10)
