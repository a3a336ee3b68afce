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
    """Every renderer's output, refusing two objects of one kind and name in one directory
    (layout would write both to one file). Two flows' nodes can clash (`<flow>-<node>`
    names): the later one is reported. So can a flow or environment and an object the
    compiler renders for itself (the collector, the controller, their namespace): then the
    user's object, from the first renderer, is reported, as it is the one to rename."""
    out = Rendered()
    seen: dict[tuple[str, str, str], tuple[int, K8sObject]] = {}  # -> renderer, object
    for i, renderer in enumerate(RENDERERS):
        part = renderer(inp)
        for o in part.objects:
            by, first = seen.setdefault((o.dir, o.kind, o.name), (i, o))
            if first is o:
                continue
            twice = f"{o.kind} '{o.name}' in {o.dir} would be rendered twice"
            if by == i:
                out.diagnostics.append(Diagnostic(
                    "M500", f"{twice} (also from {first.origin[0]}:{first.origin[1]})",
                    *o.origin, hint="rename a flow or node: names are <flow>-<node>"))
            else:
                out.diagnostics.append(Diagnostic(
                    "M500", f"{twice}: the compiler renders one of its own there (for "
                    f"{o.origin[0]}:{o.origin[1]})", *first.origin,
                    hint="rename the flow, node or environment: this name is the compiler's"))
        out.extend(part)
    return out
