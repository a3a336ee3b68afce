"""`compiler.render` re-exports the rendered types until cache, pipeline and cli import them
from `compiler.model` (the lead removes the re-export then)."""

from __future__ import annotations

import compiler.render as render
from compiler import model


def test_render_re_exports_the_same_types() -> None:
    for name in ("Artifact", "K8sObject", "Rendered", "WasmBundle"):
        assert getattr(render, name) is getattr(model, name)
