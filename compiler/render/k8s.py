"""Kubernetes objects for every flow, per environment × region, built as data.

One leaf directory `<env>/<region>` per target holds: the Namespace (restricted Pod Security),
per flow a ServiceAccount, the resolved graph as a ConfigMap, a default-deny NetworkPolicy,
and per node its workload (Deployment for service/stream flows, CronJob or Job for job flows),
a Service (service/stream flows), an ingress allow rule per edge and an egress policy (DNS,
downstream nodes, storage for media pins, the telemetry collector, declared egress).

Selectors use only labels that never change between versions (flow and node), so a new agent
version rolls out as an update instead of failing on an immutable selector.

This module is the orchestration: which flows land in which leaf, the Namespace and
RuntimeClasses of a leaf, and the cache key of a flow's unit. A flow's own objects are built by
`k8s_flow.Leaf`, from `k8s_meta` (labels, metadata, provenance), `k8s_workload` (what runs)
and `k8s_network` (Services and NetworkPolicies).
"""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.model import K8sObject, Rendered
from compiler.model.graph import LinkedFlow, Workspace
from compiler.model.spec import Environment
from compiler.render import RenderInput, doc_part
from compiler.render.k8s_flow import Leaf
from compiler.render.k8s_meta import MANAGED_BY
from compiler.render.otel import endpoint_problem

__all__ = ["render", "targets"]


def targets(flow: LinkedFlow, ws: Workspace) -> list[tuple[Environment, str]]:
    """The (environment, region) pairs a flow deploys to."""
    out = []
    for env in ws.spec.environments:
        if flow.flow.environments and env.name not in flow.flow.environments:
            continue
        for region in env.regions:
            if flow.flow.regions and region not in flow.flow.regions:
                continue
            out.append((env, region))
    return out


def render(inp: RenderInput) -> Rendered:
    ws = inp.ws
    out = Rendered()
    storage = ws.spec.storage
    problem = endpoint_problem(storage.endpoint, "storage endpoint") if storage else None
    if problem:  # rendered into every media agent's env: credentials must never get there
        p = ws.spec.doc.pos(("spec", "storage", "endpoint"))
        out.diagnostics.append(Diagnostic("M500", problem, ws.spec.doc.file, p.line, p.col))
        return out
    leaves: dict[tuple[str, str], list[LinkedFlow]] = {}
    for lf in ws.flows:
        for env, region in targets(lf, ws):
            leaves.setdefault((env.name, region), []).append(lf)
    for env in ws.spec.environments:
        for region in env.regions:
            flows = leaves.get((env.name, region))
            if flows:
                _leaf(inp, env, region, flows, out)
    return out


def _leaf(inp: RenderInput, env: Environment, region: str, flows: list[LinkedFlow],
          out: Rendered) -> None:
    ws = inp.ws
    d = f"{env.name}/{region}"
    ws_file = ws.spec.doc.file
    p = ws.spec.doc.pos(("spec", "environments", ws.spec.environments.index(env)))
    out.objects.append(K8sObject(d, _namespace(env, region), (ws_file,), (ws_file, p.line, p.col)))
    wasm_classes: set[str] = set()
    for lf in flows:
        objs, diags, classes = _flow_in_leaf(inp, env, region, lf)
        out.objects += objs
        out.diagnostics += diags
        wasm_classes |= classes
    for rc in sorted(wasm_classes):
        obj = {
            "apiVersion": "node.k8s.io/v1",
            "kind": "RuntimeClass",
            "metadata": {"name": rc, "labels": dict(MANAGED_BY)},
            "handler": rc,
        }
        out.objects.append(K8sObject(d, obj, (ws_file,), (ws_file, 1, 1)))


def _flow_in_leaf(inp: RenderInput, env: Environment, region: str, lf: LinkedFlow
                  ) -> tuple[list[K8sObject], list[Diagnostic], set[str]]:
    """One flow's objects in one environment × region: the unit of incremental rendering."""

    def build() -> tuple[list[K8sObject], list[Diagnostic], set[str]]:
        leaf = Leaf(inp, env, region, lf)
        return leaf.objects(), leaf.diagnostics, leaf.runtime_classes

    if inp.cache is None:
        return build()
    ws = inp.ws
    # Everything Leaf reads: the workspace, the flow, its agents, their bundles, the target.
    docs = [ws.spec.doc, lf.flow.doc, *(n.agent.doc for n in lf.nodes)]
    parts = ["k8s", env.name, region, *(doc_part(ws, d) for d in docs)]
    for n in lf.nodes:
        bundle = inp.wasm.get(n.agent.key)
        if bundle is not None:
            parts.append(f"wasm:{n.agent.key}={bundle.digest}/{bundle.module_digest}")
    depends = tuple(sorted({d.file for d in docs}))
    return inp.cache.unit(tuple(parts), depends, build)


def _namespace(env: Environment, region: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": env.namespace,
            "labels": {
                **MANAGED_BY,
                "mentatlab.io/environment": env.name,
                "mentatlab.io/region": region,
                # Agents must run under the restricted profile; the cluster enforces it too.
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }
