"""WASM bundles into the output tree: every file of each agent version's OCI layout.

The bundles themselves are built (and checked) by `compiler.wasm.build_bundles` before render,
so this renderer and the Kubernetes one read the very same `WasmBundle`: a workload can never
reference a digest other than the bundle's. index.json lists every bundle file with its
sha256; the image manifest's blob is named by, and hashes to, the digest workloads reference.
"""

from __future__ import annotations

from compiler.model import Artifact, Rendered
from compiler.render import RenderInput

__all__ = ["render"]


def render(inp: RenderInput) -> Rendered:
    out = Rendered()
    agents = {a.key: a for a in inp.ws.agents}
    for key, bundle in sorted(inp.wasm.items()):
        agent = agents.get(key)
        sources = tuple(sorted({agent.doc.file, agent.module or ""} - {""})) if agent else ()
        for rel, content in bundle.files.items():
            out.artifacts.append(Artifact(f"{bundle.path}/{rel}", content, sources))
    return out
