"""The workload of one node: its Deployment, Job or CronJob, down to the pod spec, the
container, its environment variables, image, resources and replicas.

Apart from the network objects (`k8s_network`) because this is what runs, and how it is
hardened; replicas and resources come from placement.py, like the cost estimate's.
"""

from __future__ import annotations

from typing import Any

from compiler.model import WasmBundle
from compiler.model.graph import LinkedNode
from compiler.render.k8s_meta import LeafBase, k8s_name
from compiler.render.k8s_network import COLLECTOR_NAME, COLLECTOR_PORTS, HTTP_PORT, STREAM_PORT
from compiler.render.placement import replicas_in, resources_in

__all__ = ["Workloads"]

RUN_AS = 65532  # the distroless "nonroot" user
DEFAULT_RUNTIME_CLASS = "wasmtime"


class Workloads(LeafBase):
    """A flow's node workloads in one leaf."""

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
