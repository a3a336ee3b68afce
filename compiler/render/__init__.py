"""Stage 5, render: pure functions from the linked workspace to output objects and files.

Every renderer takes a `RenderInput` and returns a `Rendered` (compiler/model/rendered.py).
Kubernetes objects stay data (dicts) until `layout` serialises them, so `check` can validate
them first; other artifacts (wasm bundles, reports) are bytes already.
`RENDERERS` is the pipeline's render step as data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from compiler.diagnostics import Diagnostic
from compiler.model import K8sObject, RawDoc, Rendered, WasmBundle, Workspace
from compiler.policy.rules import RuleSet

__all__ = ["RenderCache", "RenderInput", "doc_part", "unit"]

T = TypeVar("T")


class RenderCache(Protocol):
    """Memoises a unit of rendering (compiler/cache/units.py). `parts` must name every input
    the unit's result depends on, digests included; `depends_on` lists its source files."""

    def unit(self, parts: tuple[str, ...], depends_on: tuple[str, ...],
             build: Callable[[], tuple[list[K8sObject], list[Diagnostic], set[str]]]
             ) -> tuple[list[K8sObject], list[Diagnostic], set[str]]: ...

    def memo(self, parts: tuple[str, ...], build: Callable[[], tuple[T, list[Diagnostic]]],
             dump: Callable[[T], Any], load: Callable[[Any], T]
             ) -> tuple[T, list[Diagnostic]]: ...


@dataclass(frozen=True, slots=True)
class RenderInput:
    ws: Workspace
    wasm: dict[str, WasmBundle] = field(default_factory=dict)  # by agent key
    cache: RenderCache | None = None  # incremental compiles; None renders everything
    rules: RuleSet | None = None  # the policy rules the compile loaded; None: loaded here


def doc_part(ws: Workspace, doc: RawDoc) -> str:
    """A source document as a part of a unit's key: where it is and its file's digest."""
    return f"{doc.file}#{doc.index}@{ws.source_digests.get(doc.file, '')}"


def unit(inp: RenderInput, parts: tuple[str, ...], depends_on: tuple[str, ...],
         build: Callable[[], Rendered]) -> Rendered:
    """What `build` renders (objects and diagnostics, no artifacts) as one unit of the
    incremental cache, as `k8s` renders each flow in each leaf: an edit elsewhere finds its
    objects cached instead of rendering, serialising and checking them again. `parts` must
    name every input `build` reads (the compiler itself is part of every key)."""
    if inp.cache is None:
        return build()

    def objects() -> tuple[list[K8sObject], list[Diagnostic], set[str]]:
        made = build()
        assert not made.artifacts, "a unit holds objects only"
        return made.objects, made.diagnostics, set()

    objs, diags, _ = inp.cache.unit(parts, depends_on, objects)
    return Rendered(objects=objs, diagnostics=diags)
