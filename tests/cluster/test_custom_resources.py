"""The generated Agent and Flow CRDs become Established in a real apiserver; every Agent and
Flow of the example is accepted as a custom resource; and a document our schema rejects is
rejected by the apiserver too, wherever a structural schema can say so."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from compiler.render.crds import custom_resource
from compiler.validate import bundled_schema
from tests.cluster.kit import REPO, apply, documents, install_crds

pytestmark = pytest.mark.cluster

NAMESPACE = "mentat-crs"


def _example(kind: str) -> list[dict[str, Any]]:
    return [d for p in sorted((REPO / "flows").rglob("*.yaml")) for d in documents(p)
            if d.get("kind") == kind]


@pytest.fixture(scope="module")
def crs(cluster):
    assert sorted(install_crds(cluster)) == ["agents.mentatlab.io", "flows.mentatlab.io"]
    apply(cluster, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    return cluster


@pytest.mark.parametrize("kind", ["Agent", "Flow"])
def test_the_examples_documents_are_accepted(crs, kind: str) -> None:
    docs = _example(kind)
    assert docs
    apply(crs, [custom_resource(d, NAMESPACE) for d in docs])
    listed = crs.kubectl("get", f"{kind.lower()}s.mentatlab.io", "-n", NAMESPACE, "-o", "name")
    assert len(listed.stdout.split()) == len(docs)  # every version is its own resource


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


# (kind, what breaks, the change): each breaks a rule a structural schema can express
REJECTED = [
    ("Agent", "runtime outside the enum", _set(("spec", "runtime"), "docker")),
    ("Agent", "required outputs missing", _drop(("spec", "outputs"))),
    ("Agent", "pin type outside the enum", _set(("spec", "outputs", 0, "type"), "binary")),
    ("Agent", "pin name against its pattern", _set(("spec", "outputs", 0, "name"), "Bad-Name")),
    ("Agent", "unknown field in spec", _set(("spec", "imagePullSecret"), "x")),
    ("Agent", "wrong type", _set(("spec", "inputs"), "text")),
    ("Flow", "mode outside the enum", _set(("spec", "mode"), "batch")),
    ("Flow", "replicas below the minimum", _set(("spec", "nodes", 0, "replicas"), -1)),
    ("Flow", "empty nodes", _set(("spec", "nodes"), [])),
    ("Flow", "node id against its pattern", _set(("spec", "nodes", 0, "id"), "Fetch_1")),
    ("Flow", "unknown field in a node", _set(("spec", "nodes", 0, "image"), "x")),
]


@pytest.mark.parametrize(("kind", "why", "mutate"), REJECTED, ids=[r[1] for r in REJECTED])
def test_rejected_by_both(crs, kind: str, why: str, mutate) -> None:
    doc = copy.deepcopy(next(d for d in _example(kind) if d["spec"].get("outputs", True)))
    mutate(doc)
    errors = list(jsonschema.Draft202012Validator(bundled_schema(kind)).iter_errors(doc))
    assert errors, f"our schema accepts a document with {why}"
    cr = custom_resource(doc, NAMESPACE)
    cr["metadata"]["name"] = "rejected"
    proc = apply(crs, [cr], dry_run=True, check=False)
    assert proc.returncode != 0, f"the apiserver accepts a {kind} with {why}"
    assert "rejected" in proc.stderr
