"""One flow's objects in one environment × region, in the order they are rendered: its
ServiceAccount, the resolved graph as a ConfigMap, a default-deny NetworkPolicy, then per node
its workload, Service and egress policy, and the ingress rule per edge.

`Leaf` joins the workload (`k8s_workload`) and network (`k8s_network`) builders; it is the
unit `k8s._flow_in_leaf` renders and caches, apart from the per-leaf orchestration.
"""

from __future__ import annotations

from compiler.diagnostics import Diagnostic
from compiler.model import K8sObject
from compiler.render.k8s_meta import k8s_name
from compiler.render.k8s_network import HTTP_PORT, Network
from compiler.render.k8s_workload import Workloads
from compiler.render.layout import dump_json

__all__ = ["Leaf"]


class Leaf(Workloads, Network):
    """The objects of one flow in one environment × region."""

    def objects(self) -> list[K8sObject]:
        lf, flow = self.lf, self.flow
        objs = [
            self.obj({
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": self.meta(flow.name, self.flow_labels()),
                "automountServiceAccountToken": False,
            }),
            self.obj({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": self.meta(k8s_name(flow.name, "graph"), self.flow_labels()),
                "data": {"graph.json": self.graph_json()},
            }),
            self.obj({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": self.meta(k8s_name(flow.name, "default-deny"), self.flow_labels()),
                "spec": {
                    "podSelector": {"matchLabels": {"mentatlab.io/flow": flow.name}},
                    "policyTypes": ["Ingress", "Egress"],
                },
            }),
        ]
        if flow.mode == "job" and lf.edges and not self.ws.spec.storage:
            p = flow.doc.pos(("spec", "mode"))  # the choice that needs the storage
            self.diagnostics.append(Diagnostic(
                "M500", f"job flow {flow.name} passes pins between runs through object storage, "
                "but the workspace has no spec.storage", flow.doc.file, p.line, p.col,
                hint="add spec.storage to mentat.yaml"))
        for node in lf.nodes:
            if node.agent.runtime == "wasm" and node.agent.key not in self.wasm:
                f, line, col = self.origin(node)
                self.diagnostics.append(Diagnostic(
                    "M500", f"wasm agent {node.agent.key} has no bundle to reference",
                    f, line, col))
            objs.append(self.obj(self.workload(node), node))
            if self.served:
                objs.append(self.obj(self.service(node), node))
            objs.append(self.obj(self.egress_policy(node), node))
        if self.served:
            objs += [self.obj(self.edge_policy(p), lf.node(p[1])) for p in self.edge_pairs()]
        return objs

    def graph_json(self) -> str:
        lf, flow = self.lf, self.flow
        graph = {
            "flow": flow.name,
            "version": flow.version,
            "mode": flow.mode,
            "environment": self.env.name,
            "region": self.region,
            "nodes": [
                {
                    "id": n.id,
                    "agent": n.agent.name,
                    "version": n.agent.version,
                    "runtime": n.agent.runtime,
                    "replicas": self.replicas(n),
                    "inputs": [{"name": p.name, "type": p.type, "stream": p.stream}
                               for p in n.agent.inputs],
                    "outputs": [{"name": p.name, "type": p.type, "stream": p.stream}
                                for p in n.agent.outputs],
                    **({"endpoint": f"http://{self.service_name(n)}.{self.ns}.svc:{HTTP_PORT}"}
                       if self.served else {}),
                }
                for n in lf.nodes
            ],
            "edges": [
                {
                    "from": f"{e.src_node}.{e.src_pin}",
                    "to": f"{e.dst_node}.{e.dst_pin}",
                    "type": self.lf.node(e.src_node).agent.output(e.src_pin).type,  # type: ignore[union-attr]
                    "stream": self.lf.node(e.src_node).agent.output(e.src_pin).stream,  # type: ignore[union-attr]
                }
                for e in lf.edges
            ],
        }
        return dump_json(graph).decode()
