"""The network side of one flow's nodes: Services, the ingress rule per edge and each node's
egress NetworkPolicy (DNS, downstream nodes, object storage, the telemetry collector, the
agent's declared egress), with the ports they open.

Apart from the workloads because it is the flow's reachability, read and reviewed on its own.
The agent ports and the collector's name and ports are defined here; the containers and their
telemetry settings (`k8s_workload`) use the same ones.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from compiler.model.graph import LinkedNode
from compiler.model.spec import AgentSpec
from compiler.render.k8s_meta import LeafBase, k8s_name

__all__ = ["COLLECTOR_NAME", "COLLECTOR_PORTS", "HTTP_PORT", "STREAM_PORT", "Network"]

HTTP_PORT = 8080
STREAM_PORT = 8081
COLLECTOR_NAME = "mentat-otel-collector"
COLLECTOR_PORTS = (4317, 4318)


class Network(LeafBase):
    """A flow's Services and NetworkPolicies in one leaf."""

    def service_name(self, node: LinkedNode) -> str:
        return k8s_name(self.flow.name, node.id)

    def service(self, node: LinkedNode) -> dict[str, Any]:
        ports = [{"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"}]
        if self.streams(node):
            ports.append({"name": "stream", "port": STREAM_PORT, "targetPort": "stream",
                          "protocol": "TCP", "appProtocol": "kubernetes.io/ws"})
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.meta(self.service_name(node), self.node_labels(node), node),
            "spec": {"type": "ClusterIP", "selector": self.selector(node), "ports": ports},
        }

    def edge_pairs(self) -> list[tuple[str, str]]:
        return sorted({(e.src_node, e.dst_node) for e in self.lf.edges})

    def ports_for(self, node: LinkedNode) -> list[dict[str, Any]]:
        ports = [{"protocol": "TCP", "port": HTTP_PORT}]
        if self.streams(node):
            ports.append({"protocol": "TCP", "port": STREAM_PORT})
        return ports

    def edge_policy(self, pair: tuple[str, str]) -> dict[str, Any]:
        src, dst = self.lf.node(pair[0]), self.lf.node(pair[1])
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": self.meta(k8s_name(self.flow.name, src.id, "to", dst.id),
                                  self.node_labels(dst), dst),
            "spec": {
                "podSelector": {"matchLabels": self.selector(dst)},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {"matchLabels": self.selector(src)}}],
                             "ports": self.ports_for(dst)}],
            },
        }

    def egress_policy(self, node: LinkedNode) -> dict[str, Any]:
        rules: list[dict[str, Any]] = [{
            "to": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        }]
        if self.served:
            for dst_id in sorted({e.dst_node for e in self.lf.edges_out_of(node.id)}):
                dst = self.lf.node(dst_id)
                rules.append({"to": [{"podSelector": {"matchLabels": self.selector(dst)}}],
                              "ports": self.ports_for(dst)})
        storage = self.ws.spec.storage
        if storage and self.uses_storage(node):
            rules.append(_egress_to_url(storage.endpoint))
        if self.ws.spec.telemetry:
            rules.append({
                "to": [{"podSelector": {"matchLabels": {
                    "app.kubernetes.io/name": COLLECTOR_NAME}}}],
                "ports": [{"protocol": "TCP", "port": p} for p in COLLECTOR_PORTS],
            })
        rules += _declared_egress(node.agent)
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": self.meta(k8s_name(self.flow.name, node.id, "egress"),
                                  self.node_labels(node), node),
            "spec": {
                "podSelector": {"matchLabels": self.selector(node)},
                "policyTypes": ["Egress"],
                "egress": rules,
            },
        }


def _egress_to_url(url: str) -> dict[str, Any]:
    """An egress rule for an endpoint URL. In-cluster names (`svc.namespace[.svc...]`) become a
    namespace selector; other hosts cannot be named in a NetworkPolicy, so only the port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or ""
    labels = host.split(".")
    rule: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": port}]}
    if len(labels) >= 2 and (len(labels) == 2 or labels[2] == "svc"):
        rule["to"] = [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": labels[1]}}}]
    return rule


def _declared_egress(agent: AgentSpec) -> list[dict[str, Any]]:
    rules = []
    for e in agent.doc.data["spec"].get("egress", []):
        block: dict[str, Any] = {"cidr": e["cidr"]}
        if e.get("except"):
            block["except"] = list(e["except"])
        rules.append({"to": [{"ipBlock": block}],
                      "ports": [{"protocol": "TCP", "port": p} for p in e.get("ports", [443])]})
    return rules
