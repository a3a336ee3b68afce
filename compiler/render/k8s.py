"""Kubernetes objects for every flow, per environment × region, built as data.

One leaf directory `<env>/<region>` per target holds: the Namespace (restricted Pod Security),
per flow a ServiceAccount, the resolved graph as a ConfigMap, a default-deny NetworkPolicy,
and per node its workload (Deployment for service/stream flows, CronJob or Job for job flows),
a Service (service/stream flows), an ingress allow rule per edge and an egress policy (DNS,
downstream nodes, storage for media pins, the telemetry collector, declared egress).

Selectors use only labels that never change between versions (flow and node), so a new agent
version rolls out as an update instead of failing on an immutable selector.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from compiler.diagnostics import Diagnostic
from compiler.model import K8sObject, Rendered, WasmBundle
from compiler.model.graph import LinkedFlow, LinkedNode, Workspace
from compiler.model.spec import AgentSpec, Environment
from compiler.render import RenderInput
from compiler.render.layout import dump_json
from compiler.render.otel import endpoint_problem
from compiler.render.placement import replicas_in, resources_in

__all__ = [
    "COLLECTOR_NAME",
    "COLLECTOR_PORTS",
    "HTTP_PORT",
    "STREAM_PORT",
    "k8s_name",
    "render",
    "targets",
]

HTTP_PORT = 8080
STREAM_PORT = 8081
COLLECTOR_NAME = "mentat-otel-collector"
COLLECTOR_PORTS = (4317, 4318)
RUN_AS = 65532  # the distroless "nonroot" user
DEFAULT_RUNTIME_CLASS = "wasmtime"
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
    _check_unique(out)
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
        leaf = _Leaf(inp, env, region, lf)
        return leaf.objects(), leaf.diagnostics, leaf.runtime_classes

    if inp.cache is None:
        return build()
    ws, digests = inp.ws, inp.ws.source_digests
    # Everything _Leaf reads: the workspace, the flow, its agents, their bundles, the target.
    docs = [ws.spec.doc, lf.flow.doc, *(n.agent.doc for n in lf.nodes)]
    parts = ["k8s", env.name, region, *(f"{d.file}#{d.index}@{digests.get(d.file, '')}"
                                        for d in docs)]
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


def _check_unique(out: Rendered) -> None:
    seen: dict[tuple[str, str, str], K8sObject] = {}
    for o in out.objects:
        key = (o.dir, o.kind, o.name)
        if key in seen:
            f, line, col = o.origin
            out.diagnostics.append(Diagnostic(
                "M500", f"{o.kind} '{o.name}' in {o.dir} would be rendered twice "
                f"(also from {seen[key].origin[0]}:{seen[key].origin[1]})", f, line, col,
                hint="rename a flow or node: names are <flow>-<node>"))
        seen[key] = o


class _Leaf:
    """The objects of one flow in one environment × region."""

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

    # --- objects ---------------------------------------------------------------------------

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

    def replicas(self, node: LinkedNode) -> int:
        # node -> flow override per environment -> environment's regionOverrides (placement.py);
        # cost.json uses the same function, so rendered replicas and estimates agree
        return replicas_in(self.lf, node, self.env, self.region)

    def resources(self, node: LinkedNode) -> dict[str, Any]:
        res = resources_in(self.lf, node, self.env.name)
        amounts: dict[str, str] = {}
        if "cpu" in res:
            amounts["cpu"] = str(res["cpu"])
        if "memory" in res:
            amounts["memory"] = str(res["memory"])
        if res.get("gpu"):
            amounts["nvidia.com/gpu"] = str(res["gpu"])
        # requests == limits: Guaranteed QoS, and what cost estimates assume
        return {"requests": dict(amounts), "limits": dict(amounts)} if amounts else {}

    def service_name(self, node: LinkedNode) -> str:
        return k8s_name(self.flow.name, node.id)

    def streams(self, node: LinkedNode) -> bool:
        return any(p.stream for p in (*node.agent.inputs, *node.agent.outputs))

    def uses_storage(self, node: LinkedNode) -> bool:
        if not self.ws.spec.storage:
            return False
        job_pins = self.flow.mode == "job" and bool(self.lf.edges_into(node.id)
                                                     or self.lf.edges_out_of(node.id))
        return node.agent.uses_media or job_pins

    def env_vars(self, node: LinkedNode) -> list[dict[str, Any]]:
        a, flow = node.agent, self.flow
        env: list[dict[str, Any]] = [
            {"name": "MENTAT_FLOW", "value": flow.name},
            {"name": "MENTAT_FLOW_VERSION", "value": flow.version},
            {"name": "MENTAT_NODE", "value": node.id},
            {"name": "MENTAT_ENVIRONMENT", "value": self.env.name},
            {"name": "MENTAT_REGION", "value": self.region},
            {"name": "MENTAT_GRAPH", "value": "/etc/mentat/graph.json"},
        ]
        env += [{"name": k, "value": v} for k, v in a.env]
        env += [
            {"name": k, "valueFrom": {"secretKeyRef": {"name": s, "key": key}}}
            for k, s, key in a.secrets
        ]
        storage = self.ws.spec.storage
        if storage and self.uses_storage(node):
            ref = storage.secret_ref
            env += [
                {"name": "MENTAT_STORAGE_ENDPOINT", "value": storage.endpoint},
                {"name": "MENTAT_STORAGE_BUCKET", "value": storage.bucket},
                {"name": "AWS_ACCESS_KEY_ID",
                 "valueFrom": {"secretKeyRef": {"name": ref, "key": "accessKey"}}},
                {"name": "AWS_SECRET_ACCESS_KEY",
                 "valueFrom": {"secretKeyRef": {"name": ref, "key": "secretKey"}}},
            ]
        if self.ws.spec.telemetry:
            attrs = {
                "mentatlab.flow": flow.name,
                "mentatlab.flow.version": flow.version,
                "mentatlab.node": node.id,
                "mentatlab.agent": a.name,
                "mentatlab.agent.version": a.version,
                "deployment.environment": self.env.name,
                "cloud.region": self.region,
                "mentatlab.cost_center": flow.labels.get("cost-center", ""),
            }
            env += [
                {"name": "OTEL_SERVICE_NAME", "value": f"{flow.name}.{node.id}"},
                {"name": "OTEL_RESOURCE_ATTRIBUTES",
                 "value": ",".join(f"{k}={v}" for k, v in attrs.items())},
                {"name": "OTEL_EXPORTER_OTLP_ENDPOINT",
                 "value": f"http://{COLLECTOR_NAME}.{self.ns}.svc:{COLLECTOR_PORTS[0]}"},
                # 4317 speaks gRPC; many SDKs default to http/protobuf on 4318 otherwise
                {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "grpc"},
            ]
        if a.runtime == "wasm":
            # runwasi hands the pod's environment to the module: only what it was granted.
            granted = set(a.capabilities.get("env", ()))
            env = [e for e in env if e["name"] in granted]
        return env

    def image(self, node: LinkedNode) -> tuple[str, WasmBundle | None]:
        a = node.agent
        if a.runtime != "wasm":
            return a.image or "", None
        bundle = self.wasm.get(a.key)
        if bundle is None:
            return "", None
        registry = (self.ws.spec.registries or ("localhost",))[0]
        return f"{registry}/{a.name}@{bundle.digest}", bundle

    def container(self, node: LinkedNode, name: str) -> dict[str, Any]:
        image, _ = self.image(node)
        wasm = node.agent.runtime == "wasm"
        c: dict[str, Any] = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent"}
        if self.served:
            ports = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
            if self.streams(node):
                ports.append({"name": "stream", "containerPort": STREAM_PORT, "protocol": "TCP"})
            c["ports"] = ports
            if not wasm:  # a WASI command serves no HTTP of its own; the shim reports readiness
                c["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"},
                                       "periodSeconds": 10}
        c["env"] = self.env_vars(node)
        res = self.resources(node)
        if res:
            c["resources"] = res
        c["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        if not wasm:  # a wasm module sees only the files its capabilities grant
            c["volumeMounts"] = [
                {"name": "graph", "mountPath": "/etc/mentat", "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ]
        return c

    def pod_spec(self, node: LinkedNode, restart: str | None) -> dict[str, Any]:
        sched = self.flow.scheduling
        spec: dict[str, Any] = {
            "serviceAccountName": self.flow.name,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "fsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        }
        if restart:
            spec["restartPolicy"] = restart
        if node.agent.runtime == "wasm":
            wasm_cfg = self.ws.spec.spec.get("wasm", {})
            rc = wasm_cfg.get("runtimeClassName", DEFAULT_RUNTIME_CLASS)
            spec["runtimeClassName"] = rc
            self.runtime_classes.add(rc)
        if sched.get("nodeSelector"):
            spec["nodeSelector"] = dict(sorted(sched["nodeSelector"].items()))
        if sched.get("tolerations"):
            spec["tolerations"] = [dict(t) for t in sched["tolerations"]]
        if sched.get("priorityClassName"):
            spec["priorityClassName"] = sched["priorityClassName"]
        spec["containers"] = [self.container(node, "agent")]
        if node.agent.runtime != "wasm":
            spec["volumes"] = [
                {"name": "graph", "configMap": {"name": k8s_name(self.flow.name, "graph")}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            ]
        return spec

    def template(self, node: LinkedNode, restart: str | None) -> dict[str, Any]:
        labels = self.node_labels(node)
        meta: dict[str, Any] = {"labels": dict(sorted(labels.items()))}
        _, bundle = self.image(node)
        if bundle is not None:
            meta["annotations"] = {"mentatlab.io/module-digest": bundle.module_digest}
        return {"metadata": meta, "spec": self.pod_spec(node, restart)}

    def workload(self, node: LinkedNode) -> dict[str, Any]:
        flow = self.flow
        name = k8s_name(flow.name, node.id)
        labels = self.node_labels(node)
        queue = flow.scheduling.get("queue")
        if queue:
            labels["kueue.x-k8s.io/queue-name"] = queue
        if self.served:
            return {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": self.meta(name, labels, node),
                "spec": {
                    "replicas": self.replicas(node),
                    "revisionHistoryLimit": 5,
                    "selector": {"matchLabels": self.selector(node)},
                    "strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                    "template": self.template(node, None),
                },
            }
        replicas = self.replicas(node)
        job_spec: dict[str, Any] = {
            "parallelism": replicas,
            "completions": replicas,
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 86400,
            "template": self.template(node, "Never"),
        }
        duration = flow.spec.get("expectedDurationSeconds")
        if duration:
            job_spec["activeDeadlineSeconds"] = int(duration) * 4
        if flow.schedule is None:
            return {"apiVersion": "batch/v1", "kind": "Job",
                    "metadata": self.meta(k8s_name(flow.name, node.id), labels, node),
                    "spec": job_spec}
        job_labels = {"kueue.x-k8s.io/queue-name": queue} if queue else {}
        template: dict[str, Any] = {"spec": job_spec}
        if job_labels:
            template = {"metadata": {"labels": job_labels}, "spec": job_spec}
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": self.meta(k8s_name(flow.name, node.id, limit=52), labels, node),
            "spec": {
                "schedule": flow.schedule,
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": template,
            },
        }

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
