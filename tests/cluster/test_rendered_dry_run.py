"""Every object of the example's rendered tree (each environment and region, the CRDs and the
admission policies) is accepted by the real apiserver's server-side dry-run apply."""

from __future__ import annotations

import pytest

from tests.cluster.kit import RENDERED, apply, ensure_namespaces, install_crds, leaf_objects, leaves

pytestmark = pytest.mark.cluster


def _accepted(cluster, objects) -> list[str]:
    proc = apply(cluster, objects, dry_run=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.parametrize("leaf", leaves(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_object_of_a_leaf_is_accepted(cluster, leaf) -> None:
    install_crds(cluster)
    ensure_namespaces(cluster)
    objects = leaf_objects(leaf)
    accepted = _accepted(cluster, objects)
    # `-o name` prints one line per object the server accepted
    assert len(accepted) == len(objects)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "NetworkPolicy", "Namespace", "ConfigMap"} <= kinds


@pytest.mark.parametrize("part", ["crds", "policies"])
def test_crds_and_policies_are_accepted(cluster, part) -> None:
    objects = leaf_objects(RENDERED / part)
    assert objects
    assert len(_accepted(cluster, objects)) == len(objects)
