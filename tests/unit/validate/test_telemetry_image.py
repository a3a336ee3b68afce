"""Telemetry needs the collector image named and pinned: the compiler ships no image digest
of its own that nobody verified."""

from __future__ import annotations

from compiler.pipeline import compile_workspace
from tests.conftest import WORKSPACE

TELEMETRY = '  telemetry: {endpoint: "http://otel.observability:4317"%s}\n'


def test_telemetry_without_a_collector_image_is_an_error(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws(workspace=WORKSPACE + TELEMETRY % "")
    diags = compile_workspace(root).diagnostics
    assert [(d.code, d.file, d.line) for d in diags] == [("M201", "mentat.yaml", 12)]
    assert "collectorImage" in diags[0].message


def test_the_collector_image_must_be_pinned_by_digest(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws(workspace=WORKSPACE + TELEMETRY % ", collectorImage: otel/contrib:latest")
    assert [d.code for d in compile_workspace(root).diagnostics] == ["M201"]
    pinned = ", collectorImage: ghcr.io/acme/otelcol@sha256:" + "e" * 64
    assert compile_workspace(make_ws(workspace=WORKSPACE + TELEMETRY % pinned)).ok
