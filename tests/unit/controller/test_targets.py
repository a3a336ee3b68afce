"""Which manifests one target applies: its ENV/REGION directory and everything cluster-wide,
never bundles, kustomizations or Argo CD's own objects (as `compile --stdout --target` picks
them)."""

from __future__ import annotations

from compiler.controller.observe import _target_files, _targets

FILES = dict.fromkeys([
    "crds/customresourcedefinition-agents.mentatlab.io.yaml",
    "crds/kustomization.yaml",
    "policies/validatingadmissionpolicy-x.yaml",
    "prod/us-east-1/deployment-a.yaml",
    "prod/eu-west-1/deployment-a.yaml",
    "staging/eu-west-1/deployment-a.yaml",
    "staging/eu-west-1/kustomization.yaml",
    "bundles/greeter-1.0.0/index.json",
    "argocd/application-demo-staging-eu-west-1.yaml",
    "argocd/cmp/plugin.yaml",
    "cost.json",
], "0" * 64)


def test_targets_are_env_region_leaves() -> None:
    assert _targets(FILES) == ["prod/eu-west-1", "prod/us-east-1", "staging/eu-west-1"]


def test_a_target_takes_its_leaf_and_the_cluster_wide_manifests() -> None:
    assert _target_files(FILES, "staging", "eu-west-1") == [
        "crds/customresourcedefinition-agents.mentatlab.io.yaml",
        "policies/validatingadmissionpolicy-x.yaml",
        "staging/eu-west-1/deployment-a.yaml",
    ]
