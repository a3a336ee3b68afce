"""The render step as data: every renderer, in order. Each is `(RenderInput) -> Rendered`."""

from __future__ import annotations

from collections.abc import Callable

from compiler.model import Rendered
from compiler.render import (
    RenderInput,
    argocd,
    controller_deploy,
    cost,
    crds,
    k8s,
    otel,
    vap,
    wasm,
)

__all__ = ["RENDERERS"]

RENDERERS: tuple[Callable[[RenderInput], Rendered], ...] = (
    k8s.render,
    crds.render,
    otel.render_otel,
    controller_deploy.render,
    cost.render_cost,
    wasm.render,
    vap.render,
    argocd.render,
)
