"""Every typed extension of a full mentat.yaml, as validate builds it."""

from __future__ import annotations

from fractions import Fraction

from compiler.model import Pricing, Sampling, Storage, Telemetry
from tests.unit.model.conftest import WorkspaceOf

IMAGE = "ghcr.io/acme/otelcol@sha256:" + "e" * 64
FULL = f"""\
  kubernetesVersion: "1.30"
  policies: [policies/team, policies/security]
  storage: {{endpoint: "http://minio.mentat-system:9000", bucket: media, secretRef: minio-creds}}
  telemetry:
    endpoint: http://otel-backend:4317
    collectorImage: {IMAGE}
    sampling: {{ratio: 0.1, keepErrors: true, slowerThanMs: 2000}}
  pricing: {{cpuHour: 0.031, memoryGiBHour: 0.004, gpuHour: 2.50}}
"""


def test_a_full_spec_gives_every_typed_extension(workspace_of: WorkspaceOf) -> None:
    spec = workspace_of(FULL)
    assert spec.kubernetes_version == "1.30"
    assert spec.policies == ("policies/team", "policies/security")
    assert spec.storage == Storage("http://minio.mentat-system:9000", "media", "minio-creds")
    assert spec.telemetry == Telemetry("http://otel-backend:4317", IMAGE,
                                       Sampling(ratio=0.1, keep_errors=True, slower_than_ms=2000))
    # prices are exact: the numbers as written, not their binary approximations
    assert spec.pricing == Pricing(Fraction("0.031"), Fraction("0.004"), Fraction("2.5"))
    # the raw document stays readable (policy rules see it as `workspace`)
    assert spec.spec["pricing"] == {"cpuHour": 0.031, "memoryGiBHour": 0.004, "gpuHour": 2.5}
