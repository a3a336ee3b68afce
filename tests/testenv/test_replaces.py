"""The Kubernetes wrapper's replace list is read from k8s.io/kubernetes' own go.mod: every
`./staging` replace becomes the published module of the same release, nothing else does."""

from __future__ import annotations

import pytest

from testenv.build import BuildError, _wrapper_go_mod, replaces_for
from testenv.versions import STAGING, recipe_for

GO_MOD = """\
module k8s.io/kubernetes

require (
\tk8s.io/api v0.0.0
\tk8s.io/klog/v2 v2.140.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/cri-streaming => ./staging/src/k8s.io/cri-streaming
\tgithub.com/example/fork => github.com/example/fork v1.2.3
)
"""


def test_each_staging_module_gets_the_release() -> None:
    assert replaces_for(GO_MOD, "v0.36.3") == [
        "k8s.io/api => k8s.io/api v0.36.3",
        "k8s.io/cri-streaming => k8s.io/cri-streaming v0.36.3",
    ]


def test_a_go_mod_without_staging_is_refused() -> None:
    with pytest.raises(BuildError, match=r"no \./staging replaces"):
        replaces_for("module k8s.io/kubernetes\n")


def test_the_wrapper_lists_replaces_and_tools() -> None:
    recipe = recipe_for("kube-apiserver")
    text = _wrapper_go_mod(recipe, replaces_for(GO_MOD, STAGING))
    assert f"require k8s.io/kubernetes {recipe.version}" in text
    assert f"\tk8s.io/api => k8s.io/api {STAGING}" in text
    assert "\tk8s.io/kubernetes/cmd/kube-apiserver" in text
    assert "\tk8s.io/kubernetes/cmd/kubectl" in text
    assert recipe.version.replace("v1.", "v0.", 1) == STAGING
