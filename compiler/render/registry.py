"""The render step as data: every renderer, in order. Each is `(RenderInput) -> Rendered`;
`render_all` runs them and refuses two objects of one kind and name in one directory."""

from __future__ import annotations

from collections.abc import Callable

from compiler.diagnostics import Diagnostic
from compiler.model import K8sObject, Rendered
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

__all__ = ["RENDERERS", "render_all"]

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


def render_all(inp: RenderInput) -> Rendered:
    """Every renderer's output. The names the compiler gives its own objects (the collector,
    the controller, their namespace) can be a flow's or an environment's too: the clash is
    reported where the user's object comes from (the first renderer's), which can be renamed."""
    out = Rendered()
    seen: dict[tuple[str, str, str], tuple[int, K8sObject]] = {}  # -> renderer, object
    for i, renderer in enumerate(RENDERERS):
        part = renderer(inp)
        for o in part.objects:
            by, first = seen.setdefault((o.dir, o.kind, o.name), (i, o))
            if by != i:  # one renderer's own clashes are its to report (k8s: two flows)
                f, line, col = first.origin
                out.diagnostics.append(Diagnostic(
                    "M500", f"{o.kind} '{o.name}' in {o.dir} would be rendered twice: the "
                    f"compiler renders one of its own there (for {o.origin[0]}:{o.origin[1]})",
                    f, line, col, hint="rename the flow, node or environment: this name is "
                    "the compiler's"))
        out.extend(part)
    return out
