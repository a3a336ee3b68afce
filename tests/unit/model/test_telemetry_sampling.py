"""Telemetry without `sampling`, or with some of its rules, samples by the rules given only."""

from __future__ import annotations

from compiler.model import Sampling
from tests.unit.model.conftest import WorkspaceOf

IMAGE = "ghcr.io/acme/otelcol@sha256:" + "e" * 64


def test_sampling_left_out_keeps_no_rule(workspace_of: WorkspaceOf) -> None:
    spec = workspace_of(f"  telemetry: {{endpoint: 'https://otlp.example.com', "
                        f"collectorImage: '{IMAGE}'}}\n")
    assert spec.telemetry is not None
    assert spec.telemetry.sampling == Sampling(ratio=None, keep_errors=False, slower_than_ms=None)


def test_a_ratio_alone_is_kept_as_written(workspace_of: WorkspaceOf) -> None:
    spec = workspace_of(f"  telemetry: {{endpoint: 'http://otel:4317', collectorImage: '{IMAGE}', "
                        "sampling: {ratio: 1}}\n")
    assert spec.telemetry is not None
    sampling = spec.telemetry.sampling
    assert (sampling.ratio, sampling.keep_errors, sampling.slower_than_ms) == (1, False, None)
    assert type(sampling.ratio) is int  # the rendered percentage is computed from it as written
