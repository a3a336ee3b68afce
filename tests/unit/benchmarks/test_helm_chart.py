"""The benchmark's helm anchor renders exactly the objects of the leaf it was made from, and the
equality check notices when it does not."""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.helm_chart import leaf_objects, same_objects, template_args, values_file, write_chart
from testenv import binary

REPO = Path(__file__).resolve().parents[3]
LEAF = REPO / "rendered" / "prod" / "us-east-1"


def _template(chart: Path) -> str:
    return subprocess.run([str(binary("helm")), *template_args(chart)],
                          capture_output=True, text=True, check=True, timeout=300).stdout


def test_the_chart_renders_the_leafs_objects(tmp_path: Path) -> None:
    n = write_chart(LEAF, tmp_path / "chart")
    assert n == len(leaf_objects(LEAF)) > 20
    assert same_objects(_template(tmp_path / "chart"), LEAF)


def test_a_difference_is_noticed(tmp_path: Path) -> None:
    write_chart(LEAF, tmp_path / "chart")
    values = values_file(tmp_path / "chart")
    text = values.read_text()
    assert "replicas: 2" in text
    values.write_text(text.replace("replicas: 2", "replicas: 7", 1))
    assert not same_objects(_template(tmp_path / "chart"), LEAF)
