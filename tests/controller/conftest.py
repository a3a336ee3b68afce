"""Fixtures for the controller's tests against the real control plane (marker `cluster`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controller.faultproxy import FaultProxy
from tests.controller.kit import Kit, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("controller-pki") / "pki")


@pytest.fixture
def kit(cluster: Any, pki: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Kit]:
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8]
    name = "w" + digest + "-" + request.node.originalname.replace("_", "-").lower()[5:35].strip("-")
    k = Kit(tmp_path, pki, name, Path(cluster.kubeconfig))
    yield k
    cluster.kubectl("delete", "namespace", k.ns, "--ignore-not-found", "--wait=false")


@pytest.fixture
def proxy(cluster: Any) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the real apiserver, for one test."""
    p = FaultProxy(Path(cluster.kubeconfig))
    yield p
    p.close()
