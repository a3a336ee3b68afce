"""Fixtures for the controller's tests against the real control plane (marker `cluster`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.controller.kit import Kit, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("controller-pki") / "pki")


@pytest.fixture
def kit(cluster: Any, pki: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Kit:
    name = "w" + request.node.name.replace("_", "-").lower()[:40].strip("-")
    k = Kit(tmp_path, pki, name, Path(cluster.kubeconfig))
    yield k
    cluster.kubectl("delete", "namespace", k.ns, "--ignore-not-found", "--wait=false")
