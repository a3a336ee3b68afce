"""Validated and rendered values are frozen: a stage cannot change what another one sees."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from compiler.model import Artifact, K8sObject, Pricing, Sampling, Storage, Telemetry, WasmBundle
from tests.unit.model.conftest import WorkspaceOf


@pytest.mark.parametrize(("value", "field"), [
    (Storage("http://minio:9000", "media", "creds"), "bucket"),
    (Telemetry("http://otel:4317", "img@sha256:" + "0" * 64), "endpoint"),
    (Sampling(), "ratio"),
    (Pricing(Fraction(1)), "cpu_hour"),
    (K8sObject("d", {"kind": "Service", "metadata": {"name": "x"}}, ()), "dir"),
    (Artifact("a.json", b"{}", ()), "content"),
    (WasmBundle("echo@1.0.0", "sha256:a", "sha256:b", "bundles/echo-1.0.0"), "digest"),
])
def test_fields_cannot_be_reassigned(value: object, field: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, None)


def test_the_workspace_spec_is_frozen(workspace_of: WorkspaceOf) -> None:
    spec = workspace_of("")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.kubernetes_version = "1.29"  # type: ignore[misc]
