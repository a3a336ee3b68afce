"""A workspace mixing v1alpha1 and v1 compiles to exactly what its all-v1 twin compiles to."""

from __future__ import annotations

from typing import Any

from compiler.pipeline import compile_workspace
from tests.conftest import AGENTS, DIGEST, FLOW

OLD_AGENT = f"""\
apiVersion: mentatlab.io/v1alpha1
kind: Agent
metadata: {{name: fetcher, version: 1.0.0}}
spec:
  type: container
  image: ghcr.io/mentatlab/fetcher@sha256:{DIGEST}
  pins:
    outputs: {{articles: text}}
  resources: {{cpu: 100m, memory: 64Mi}}
---
""" + AGENTS.split("---\n", 1)[1]

OLD_FLOW = FLOW.replace("mentatlab.io/v1", "mentatlab.io/v1alpha1").replace(
    "  nodes:", "  steps:").replace("{from: fetch.articles, to: sum.text}",
                                    '"fetch.articles -> sum.text"').replace(
    "prod: {nodes:", "prod: {steps:")


def test_mixed_workspace_compiles_like_its_v1_twin(make_ws: Any, tmp_path: Any) -> None:
    assert "v1alpha1" in OLD_FLOW and "steps" in OLD_FLOW and "->" in OLD_FLOW
    mixed = compile_workspace(make_ws(agents=OLD_AGENT, flow=OLD_FLOW))
    assert mixed.ok, mixed.diagnostics
    assert sorted((d.file, d.line, d.code) for d in mixed.diagnostics) == [
        ("flows/agents.yaml", 1, "M111"), ("flows/flow.yaml", 1, "M111")]
    mixed_objects = sorted(repr(o.obj) for o in mixed.rendered.objects)  # type: ignore[union-attr]
    twin = compile_workspace(make_ws())  # the same directory, rewritten in v1
    assert twin.ok and not twin.diagnostics
    assert sorted(repr(o.obj) for o in twin.rendered.objects) == mixed_objects  # type: ignore[union-attr]
