"""The shared ground of one flow's Kubernetes objects in one environment × region.

`LeafBase` holds what every object of a flow in a leaf needs whatever its kind: the target,
the labels and selectors, annotations, metadata, the source files and positions an object is
traced to, and the two facts about a node both its workload and its network policy read (does
it stream, does it reach object storage). `k8s_workload` and `k8s_network` build on it; kept
apart so that naming and provenance rules live in one place.
"""

from __future__ import annotations

import hashlib
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.model import K8sObject
from compiler.model.graph import LinkedFlow, LinkedNode
from compiler.model.spec import Environment
from compiler.render import RenderInput

__all__ = ["MANAGED_BY", "LeafBase", "k8s_name"]

MANAGED_BY = {"app.kubernetes.io/managed-by": "mentatctl"}


def k8s_name(*parts: str, limit: int = 63) -> str:
    """Join parts into a DNS-1123 name; when too long, truncate and add a stable hash so
    two long names never collapse into one."""
    name = "-".join(p for p in parts if p)
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: limit - 9].rstrip('-')}-{digest}"


def _label_value(v: str) -> str:
    return v.replace("+", "_")[:63]


class LeafBase:
    """What one flow in one environment × region shares across its objects."""

    def __init__(self, inp: RenderInput, env: Environment, region: str, lf: LinkedFlow) -> None:
        self.ws, self.wasm = inp.ws, inp.wasm
        self.env, self.region, self.lf = env, region, lf
        self.flow = lf.flow
        self.dir = f"{env.name}/{region}"
        self.ns = env.namespace
        self.diagnostics: list[Diagnostic] = []
        self.runtime_classes: set[str] = set()
        self.served = self.flow.mode in ("service", "stream")

    # --- shared metadata ------------------------------------------------------------------

    def flow_labels(self) -> dict[str, str]:
        return {
            **self.flow.labels,
            "app.kubernetes.io/part-of": self.flow.name,
            **MANAGED_BY,
            "mentatlab.io/flow": self.flow.name,
            "mentatlab.io/version": _label_value(self.flow.version),
        }

    def selector(self, node: LinkedNode) -> dict[str, str]:
        return {"mentatlab.io/flow": self.flow.name, "mentatlab.io/node": node.id}

    def node_labels(self, node: LinkedNode) -> dict[str, str]:
        a = node.agent
        return {
            **a.labels,
            **self.flow_labels(),
            "app.kubernetes.io/name": a.name,
            "app.kubernetes.io/instance": k8s_name(self.flow.name, node.id),
            "app.kubernetes.io/version": _label_value(a.version),
            "app.kubernetes.io/component": node.id,
            "mentatlab.io/node": node.id,
            "mentatlab.io/agent": a.name,
        }

    def sources(self, node: LinkedNode | None = None) -> tuple[str, ...]:
        files = {self.ws.spec.doc.file, self.flow.doc.file}
        if node is not None:
            files.add(node.agent.doc.file)
        else:
            files |= {n.agent.doc.file for n in self.lf.nodes}
        return tuple(sorted(files))

    def annotations(self, node: LinkedNode | None = None) -> dict[str, str]:
        ann = dict(self.flow.annotations)
        if node is not None:
            ann = {**node.agent.annotations, **ann}
        ann["mentatlab.io/source"] = ",".join(self.sources(node))
        return dict(sorted(ann.items()))

    def meta(self, name: str, labels: dict[str, str], node: LinkedNode | None = None
             ) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": self.ns,
            "labels": dict(sorted(labels.items())),
            "annotations": self.annotations(node),
        }

    def origin(self, node: LinkedNode | None = None) -> tuple[str, int, int]:
        path: tuple[Any, ...] = ()
        if node is not None:
            index = next(n.index for n in self.flow.nodes if n.id == node.id)
            path = ("spec", "nodes", index)
        p = self.flow.doc.pos(path)
        return (self.flow.doc.file, p.line, p.col)

    def obj(self, body: dict[str, Any], node: LinkedNode | None = None) -> K8sObject:
        return K8sObject(self.dir, body, self.sources(node), self.origin(node), self.flow.name)

    # --- what a node's workload and its network policy both read --------------------------

    def streams(self, node: LinkedNode) -> bool:
        return any(p.stream for p in (*node.agent.inputs, *node.agent.outputs))

    def uses_storage(self, node: LinkedNode) -> bool:
        if not self.ws.spec.storage:
            return False
        job_pins = self.flow.mode == "job" and bool(self.lf.edges_into(node.id)
                                                     or self.lf.edges_out_of(node.id))
        return node.agent.uses_media or job_pins
