"""Rendered objects are checked against the Kubernetes OpenAPI schemas; a failure is loud."""

from __future__ import annotations

import copy

from compiler.check import check, schema_version
from compiler.model import K8sObject

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "x", "namespace": "n"},
    "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}},
    },
}


def obj(body: dict) -> K8sObject:  # type: ignore[type-arg]
    return K8sObject("prod/r", body, ("flows/f.yaml",), ("flows/f.yaml", 7, 5))


def test_a_valid_object_passes() -> None:
    assert check([obj(DEPLOYMENT)], "1.31") == []


def test_a_wrong_type_or_unknown_field_is_a_located_compiler_bug() -> None:
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["replicas"] = "three"
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    diags = check([obj(bad)], "1.31")
    assert {d.code for d in diags} == {"M600"} and len(diags) == 2
    assert all((d.file, d.line, d.col) == ("flows/f.yaml", 7, 5) for d in diags)
    text = " ".join(d.message for d in diags)
    assert "compiler bug" in text and "spec/replicas" in text and "imagePullPolcy" in text


def test_an_unknown_kind_is_reported_not_skipped() -> None:
    diags = check([obj({"apiVersion": "example.com/v1", "kind": "Widget",
                        "metadata": {"name": "w"}})], "1.31")
    assert [d.code for d in diags] == ["M600"] and "no Kubernetes" in diags[0].message


def test_schema_version_picks_the_newest_not_newer() -> None:
    assert schema_version("1.31") == "1.31"
    assert schema_version("1.99").startswith("1.")
    assert schema_version("1.0") == schema_version("1.1")
