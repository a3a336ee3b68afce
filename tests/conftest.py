"""Shared fixtures: tiny workspaces built in tmp dirs, and the --update-golden flag."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from testenv import ControlPlane

REPO = Path(__file__).resolve().parents[1]

WORKSPACE = """\
apiVersion: mentatlab.io/v1
kind: Workspace
metadata: {name: test}
spec:
  sources: [flows/]
  output: rendered/
  registries: [ghcr.io/mentatlab]
  environments:
    - {name: staging, namespace: mentat-staging, regions: [eu-west-1]}
    - {name: prod, namespace: mentat-prod, regions: [us-east-1, eu-west-1]}
  storage: {endpoint: "http://minio.mentat-system:9000", bucket: media, secretRef: minio-creds}
"""

DIGEST = "a" * 64

AGENTS = f"""\
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: fetcher, version: 1.0.0}}
spec:
  runtime: container
  image: ghcr.io/mentatlab/fetcher@sha256:{DIGEST}
  outputs: [{{name: articles, type: text}}]
  resources: {{cpu: 100m, memory: 64Mi}}
---
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: summarizer, version: 1.2.0}}
spec:
  runtime: container
  image: ghcr.io/mentatlab/summarizer@sha256:{DIGEST}
  inputs: [{{name: text, type: text}}]
  outputs: [{{name: summary, type: text}}]
  resources: {{cpu: 500m, memory: 256Mi}}
"""

FLOW = """\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: digest, version: 0.1.0, labels: {owner: test-team}}
spec:
  mode: service
  nodes:
    - {id: fetch, agent: fetcher@^1.0}
    - {id: sum, agent: summarizer@1.2.0}
  edges:
    - {from: fetch.articles, to: sum.text}
  overrides:
    prod: {nodes: {fetch: {replicas: 2}, sum: {replicas: 2}}}
"""

MakeWs = Callable[..., Path]


# a flow whose node names an agent no workspace has: a link error (M3xx), nothing earlier
UNLINKED_FLOW = """\
    apiVersion: mentatlab.io/v1
    kind: Flow
    metadata: {name: digest, version: 0.1.0, labels: {owner: team}}
    spec:
      mode: service
      nodes:
        - {id: fetch, agent: nosuch@^1.0}
"""


@pytest.fixture(autouse=True, scope="session")
def _cache_key(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The incremental cache's HMAC key lives in the user's config directory: tests use one
    of their own instead of creating the runner's."""
    os.environ.setdefault("MENTAT_CACHE_KEY_FILE",
                          str(tmp_path_factory.mktemp("cache-key") / "cache.key"))


@pytest.fixture
def make_ws(tmp_path: Path) -> MakeWs:
    """Write a workspace: mentat.yaml plus `files` (path -> text, dedented)."""

    def make(files: dict[str, str | bytes] | None = None, *, workspace: str = WORKSPACE,
             agents: str | None = AGENTS, flow: str | None = FLOW) -> Path:
        root = tmp_path / "ws"
        root.mkdir(exist_ok=True)
        (root / "mentat.yaml").write_text(workspace)
        (root / "flows").mkdir(exist_ok=True)
        defaults: dict[str, str | bytes] = {}
        if agents is not None:
            defaults["flows/agents.yaml"] = agents
        if flow is not None:
            defaults["flows/flow.yaml"] = flow
        for rel, content in {**defaults, **(files or {})}.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content))
        return root

    return make


@pytest.fixture
def example_ws(tmp_path: Path) -> Path:
    """A private copy of the example workspace (its sources and mentat.yaml, no output)."""
    root = tmp_path / "ws"
    shutil.copytree(REPO / "flows", root / "flows")
    shutil.copy(REPO / "mentat.yaml", root / "mentat.yaml")
    return root


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files from the current compiler output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# --- the real control plane (testenv/) -----------------------------------------------------

_PLANE = pytest.StashKey["ControlPlane"]()


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    """A real etcd + kube-apiserver + controller-manager + scheduler + kwok on 127.0.0.1, built
    from their Go modules on first use (cached outside the repository). Shared by the session:
    tests keep to their own namespaces. Fails, never skips, when Go or a module is missing."""
    from testenv import ControlPlane

    plane = ControlPlane()
    request.config.stash[_PLANE] = plane
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()
        shutil.rmtree(plane.dir, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that uses the control plane is a cluster test, whether or not it says so.
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    plane = item.config.stash.get(_PLANE, None)
    if report.failed and plane is not None and "cluster" in getattr(item, "fixturenames", ()):
        report.sections.append(("control plane logs (tails)", plane.logs()))
    return report
