"""Every rendered OpenTelemetry Collector configuration passes the `validate` command of a real
collector built with exactly the components we render (testenv/versions.py: OTEL_COMPONENTS)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testenv import binary
from tests.cluster.kit import documents, leaves

pytestmark = pytest.mark.cluster


def _configs() -> list[tuple[str, str]]:
    """(leaf/ConfigMap key, collector config text) for every collector ConfigMap rendered."""
    out = []
    for leaf in leaves():
        for path in sorted(leaf.glob("configmap-*otel-collector*.yaml")):
            for doc in documents(path):
                for key, text in sorted(doc.get("data", {}).items()):
                    if key.endswith((".yaml", ".yml")):
                        out.append((f"{leaf.parent.name}/{leaf.name}/{key}", text))
    return out


CONFIGS = _configs()


def test_every_leaf_renders_a_collector_config() -> None:
    assert len(CONFIGS) >= len(leaves())


@pytest.mark.parametrize(("name", "text"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_the_collector_accepts_it(name: str, text: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    proc = subprocess.run([str(binary("otelcol-mentat")), "validate", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{name}:\n{proc.stderr}"
