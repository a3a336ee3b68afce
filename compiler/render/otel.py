"""OpenTelemetry Collector per environment x region, as plain objects or an operator resource.

Every agent container exports OTLP to Service `mentat-otel-collector` in its namespace (the k8s
renderer sets that up); this renderer provides what listens there. Per environment,
`collector: plain` (default) renders a ConfigMap + Deployment + Service; `collector: operator`
renders an `OpenTelemetryCollector` named `mentat-otel`, which the operator expands into a
Deployment and Service named `mentat-otel-collector` whose pods carry
`app.kubernetes.io/name: mentat-otel-collector` — the same names and labels as the plain form,
so agents, NetworkPolicies and RBAC do not care which one a cluster uses.

The check stage checks every config rendered here (compiler/check/otel.py); a failure there is
a compiler bug, error M601, and the compile writes nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import yaml

from compiler.diagnostics import Diagnostic
from compiler.model import Environment, K8sObject, Rendered, Sampling, Workspace
from compiler.render import RenderInput, doc_part, unit
from compiler.render.placement import placements

__all__ = [
    "COLLECTOR_NAME",
    "CONFIG_KEY",
    "OPERATOR_CR_NAME",
    "collector_config",
    "collector_image",
    "collector_mode",
    "config_yaml",
    "endpoint_problem",
    "parse_endpoint",
    "render_otel",
]

COLLECTOR_NAME = "mentat-otel-collector"  # Service, Deployment, ServiceAccount, pod label
OPERATOR_CR_NAME = "mentat-otel"  # the operator appends "-collector" for what it creates
CONFIG_KEY = "config.yaml"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
PROMETHEUS_PORT = 8889
HEALTH_PORT = 13133
_CONFIG_DIR = "/conf"
_RUN_AS = 10001  # the uid/gid the contrib image is built for

_SELECTOR = {"app.kubernetes.io/name": COLLECTOR_NAME}
_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    # memory_limiter works in percent of this limit; without a limit it cannot protect the pod
    "limits": {"cpu": "1", "memory": "512Mi"},
}


def collector_mode(env: Environment) -> str:
    """`plain` or `operator`, from the environment's `collector` field in mentat.yaml."""
    return "operator" if env.extra.get("collector") == "operator" else "plain"


def parse_endpoint(endpoint: str) -> tuple[str, str, int, bool]:
    """(scheme, host, port, insecure) of the telemetry endpoint; gRPC's default port is 4317.

    Only host and port are kept: credentials in the URL never reach the rendered config.
    """
    text = endpoint if "://" in endpoint else f"//{endpoint}"
    parts = urlsplit(text)
    scheme = parts.scheme or "http"
    host = parts.hostname or ""
    default = 443 if scheme == "https" else OTLP_GRPC_PORT
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return scheme, host, port, scheme != "https"


def endpoint_problem(endpoint: str, what: str = "telemetry endpoint") -> str | None:
    """Why the endpoint cannot be used (an OTLP/gRPC or S3 target: scheme://host[:port]),
    or None. Credentials are refused, and never echoed back, not even in the message."""
    try:
        parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    except ValueError as e:  # a bracket left open: "Invalid IPv6 URL"
        return f"{what} {endpoint!r} is not a valid URL ({e})"
    if "@" in parts.netloc:
        endpoint = endpoint.replace(parts.netloc.rsplit("@", 1)[0], "***", 1)
        return (f"{what} {endpoint!r} carries credentials; put them in a Secret, "
                "not in mentat.yaml")
    try:
        parts.port  # noqa: B018 -- raises on a port that is not a number in range
    except ValueError:
        return f"{what} {endpoint!r} has an invalid port"
    if not parts.hostname:
        return f"{what} {endpoint!r} has no host"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{what} {endpoint!r} has a path; it takes only scheme://host:port"
    return None


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _percentage(ratio: float) -> float:
    # Decimal via str: 0.1 * 100 must be 10.0, not 10.000000000000002
    return float(Decimal(str(ratio)) * 100)


def _sampling_policies(sampling: Sampling) -> list[dict[str, Any]]:
    # tail_sampling keeps a trace when any policy says so: errors OR slow OR the random share
    policies: list[dict[str, Any]] = []
    if sampling.keep_errors:
        policies.append(
            {"name": "keep-errors", "type": "status_code",
             "status_code": {"status_codes": ["ERROR"]}}
        )
    if sampling.slower_than_ms is not None:
        policies.append(
            {"name": "keep-slow", "type": "latency",
             "latency": {"threshold_ms": int(sampling.slower_than_ms)}}
        )
    if sampling.ratio is not None:
        policies.append(
            {"name": "probabilistic", "type": "probabilistic",
             "probabilistic": {"sampling_percentage": _percentage(sampling.ratio)}}
        )
    return policies


def collector_config(ws: Workspace, env: Environment, region: str) -> dict[str, Any]:
    """The collector's configuration for one environment x region, as data."""
    telemetry = ws.spec.telemetry
    _, host, port, insecure = parse_endpoint(telemetry.endpoint if telemetry else "")
    otlp: dict[str, Any] = {"endpoint": _host_port(host, port)}
    if insecure:
        otlp["tls"] = {"insecure": True}
    policies = _sampling_policies(telemetry.sampling if telemetry else Sampling())

    processors: dict[str, Any] = {
        "memory_limiter": {
            "check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25,
        },
        "k8sattributes": {
            "auth_type": "serviceAccount",
            "filter": {"namespace": env.namespace},
            "extract": {
                "metadata": [
                    "k8s.namespace.name", "k8s.pod.name", "k8s.pod.uid", "k8s.node.name",
                    "k8s.deployment.name", "k8s.job.name", "k8s.cronjob.name",
                ],
            },
            "pod_association": [
                {"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
                {"sources": [{"from": "resource_attribute", "name": "k8s.pod.uid"}]},
                {"sources": [{"from": "connection"}]},
            ],
        },
        "resource": {
            "attributes": [
                # the same keys the agents' OTEL_RESOURCE_ATTRIBUTES use (render/k8s_workload.py)
                {"key": "deployment.environment", "value": env.name, "action": "upsert"},
                {"key": "cloud.region", "value": region, "action": "upsert"},
                {"key": "mentatlab.workspace", "value": ws.spec.name, "action": "upsert"},
            ],
        },
    }
    if policies:
        processors["tail_sampling"] = {
            "decision_wait": "10s", "num_traces": 50000, "expected_new_traces_per_sec": 100,
            "policies": policies,
        }
    processors["batch"] = {"send_batch_size": 8192, "send_batch_max_size": 16384,
                           "timeout": "5s"}

    # k8sattributes before tail_sampling: it finds the pod by the connection's peer address,
    # which is gone once tail_sampling re-emits buffered traces; batch last, after sampling.
    common = ["memory_limiter", "k8sattributes", "resource"]
    traces = [*common, *(["tail_sampling"] if policies else []), "batch"]
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                },
            },
        },
        "processors": processors,
        "exporters": {
            "otlp": otlp,
            "prometheus": {"endpoint": f"0.0.0.0:{PROMETHEUS_PORT}",
                           "resource_to_telemetry_conversion": {"enabled": True}},
        },
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": traces, "exporters": ["otlp"]},
                "metrics": {"receivers": ["otlp"], "processors": [*common, "batch"],
                            "exporters": ["otlp", "prometheus"]},
                "logs": {"receivers": ["otlp"], "processors": [*common, "batch"],
                         "exporters": ["otlp"]},
            },
        },
    }


def config_yaml(config: dict[str, Any]) -> str:
    """Stable text: key order as built (readable top-down), block style, no line wrapping.
    libyaml's emitter (CSafeDumper) gives the same text as the pure-Python one, 5x faster."""
    return yaml.dump(config, Dumper=_DUMPER, sort_keys=False, default_flow_style=False,
                     width=4096)


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _labels(env: Environment, region: str) -> dict[str, str]:
    return {
        **_SELECTOR,
        "app.kubernetes.io/component": "telemetry-collector",
        "app.kubernetes.io/part-of": "mentatlab",
        "app.kubernetes.io/managed-by": "mentatctl",
        "mentatlab.io/environment": env.name,
        "mentatlab.io/region": region,
    }


def _meta(name: str, env: Environment, region: str) -> dict[str, Any]:
    return {"name": name, "namespace": env.namespace, "labels": _labels(env, region)}


_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": _RUN_AS,
    "runAsGroup": _RUN_AS,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
_POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": _RUN_AS,
    "runAsGroup": _RUN_AS,
    "fsGroup": _RUN_AS,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _container_ports() -> list[dict[str, Any]]:
    return [
        {"name": "otlp-grpc", "containerPort": OTLP_GRPC_PORT, "protocol": "TCP"},
        {"name": "otlp-http", "containerPort": OTLP_HTTP_PORT, "protocol": "TCP"},
        {"name": "metrics", "containerPort": PROMETHEUS_PORT, "protocol": "TCP"},
        {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
    ]


def collector_image(ws: Workspace) -> str:
    """`spec.telemetry.collectorImage`: an OpenTelemetry Collector *contrib* build (it ships
    k8sattributes, tail_sampling, resource and the prometheus exporter), pinned by digest.
    The schema requires it: the compiler pins no image of its own that nobody verified."""
    if ws.spec.telemetry is None:
        raise ValueError("the workspace has no spec.telemetry")
    return ws.spec.telemetry.collector_image


def _plain_objects(
    env: Environment, region: str, text: str, config_sha: str, image: str
) -> list[dict[str, Any]]:
    probe = {"httpGet": {"path": "/", "port": "health"}, "periodSeconds": 10}
    configmap = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _meta(COLLECTOR_NAME, env, region),
        "data": {CONFIG_KEY: text},
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(COLLECTOR_NAME, env, region),
        "spec": {
            # one replica: tail sampling must see every span of a trace in one process
            "replicas": 1,
            "selector": {"matchLabels": dict(_SELECTOR)},
            "template": {
                "metadata": {
                    "labels": _labels(env, region),
                    # a config change rolls the pods
                    "annotations": {"mentatlab.io/config-sha256": config_sha},
                },
                "spec": {
                    "serviceAccountName": COLLECTOR_NAME,
                    "automountServiceAccountToken": True,  # k8sattributes reads pods
                    "enableServiceLinks": False,
                    "securityContext": dict(_POD_SECURITY),
                    "containers": [{
                        "name": "otelcol",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": [f"--config={_CONFIG_DIR}/{CONFIG_KEY}"],
                        "ports": _container_ports(),
                        "resources": {k: dict(v) for k, v in _RESOURCES.items()},
                        "securityContext": dict(_CONTAINER_SECURITY),
                        "livenessProbe": probe,
                        "readinessProbe": probe,
                        "volumeMounts": [
                            {"name": "config", "mountPath": _CONFIG_DIR, "readOnly": True},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }],
                    "volumes": [
                        {"name": "config", "configMap": {
                            "name": COLLECTOR_NAME,
                            "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}]}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _meta(COLLECTOR_NAME, env, region),
        "spec": {
            "type": "ClusterIP",
            "selector": dict(_SELECTOR),
            "ports": [
                {"name": "otlp-grpc", "port": OTLP_GRPC_PORT, "targetPort": "otlp-grpc",
                 "protocol": "TCP", "appProtocol": "grpc"},
                {"name": "otlp-http", "port": OTLP_HTTP_PORT, "targetPort": "otlp-http",
                 "protocol": "TCP", "appProtocol": "http"},
                {"name": "metrics", "port": PROMETHEUS_PORT, "targetPort": "metrics",
                 "protocol": "TCP"},
            ],
        },
    }
    return [configmap, deployment, service]


def _operator_object(
    env: Environment, region: str, config: dict[str, Any], config_sha: str, image: str
) -> dict[str, Any]:
    return {
        "apiVersion": "opentelemetry.io/v1beta1", "kind": "OpenTelemetryCollector",
        "metadata": _meta(OPERATOR_CR_NAME, env, region),
        "spec": {
            "mode": "deployment",
            "replicas": 1,
            "image": image,
            "serviceAccount": COLLECTOR_NAME,
            "podAnnotations": {"mentatlab.io/config-sha256": config_sha},
            "podSecurityContext": dict(_POD_SECURITY),
            "securityContext": dict(_CONTAINER_SECURITY),
            "resources": {k: dict(v) for k, v in _RESOURCES.items()},
            "config": config,
        },
    }


def _endpoint_peer(host: str, namespace: str) -> list[dict[str, Any]] | None:
    """NetworkPolicy peers for the telemetry backend; None means any destination on its port.

    NetworkPolicy cannot name a DNS host: an IP becomes an ipBlock, an in-cluster Service name
    (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`) its namespace; an external name stays open
    on the port only.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        return [{"ipBlock": {"cidr": f"{ip}/{ip.max_prefixlen}"}}]
    labels = host.split(".")
    if len(labels) == 1:
        return [{"podSelector": {}}]  # a Service in the collector's own namespace
    in_cluster = len(labels) == 2 or labels[2:] in (["svc"], ["svc", "cluster", "local"])
    if in_cluster:
        ns = labels[1]
        if ns == namespace:
            return [{"podSelector": {}}]
        return [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}]
    return None


def _rbac_and_network(
    env: Environment, region: str, endpoint: str
) -> list[dict[str, Any]]:
    _, host, port, _ = parse_endpoint(endpoint)
    service_account = {
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": _meta(COLLECTOR_NAME, env, region),
        "automountServiceAccountToken": True,
    }
    # k8sattributes is filtered to this namespace, so a namespaced Role is enough: pods, and
    # replicasets to name a pod's Deployment
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": _meta(COLLECTOR_NAME, env, region),
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["apps"], "resources": ["replicasets"],
             "verbs": ["get", "list", "watch"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": _meta(COLLECTOR_NAME, env, region),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": COLLECTOR_NAME},
        "subjects": [{"kind": "ServiceAccount", "name": COLLECTOR_NAME,
                      "namespace": env.namespace}],
    }
    backend: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": port}]}
    peers = _endpoint_peer(host, env.namespace)
    if peers is not None:
        backend = {"to": peers, **backend}
    dns = {
        "to": [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    # the API server has no selectable pods; its port is all a NetworkPolicy can pin
    apiserver = {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}
    policy = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _meta(COLLECTOR_NAME, env, region),
        "spec": {
            "podSelector": {"matchLabels": dict(_SELECTOR)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {  # OTLP from the flows' pods in this namespace
                    "from": [{"podSelector": {"matchExpressions": [
                        {"key": "mentatlab.io/flow", "operator": "Exists"}]}}],
                    "ports": [{"protocol": "TCP", "port": OTLP_GRPC_PORT},
                              {"protocol": "TCP", "port": OTLP_HTTP_PORT}],
                },
                {  # Prometheus scrapes from any namespace, metrics port only
                    "from": [{"namespaceSelector": {}}],
                    "ports": [{"protocol": "TCP", "port": PROMETHEUS_PORT}],
                },
            ],
            "egress": [backend, dns, apiserver],
        },
    }
    return [service_account, role, binding, policy]


def _telemetry_origin(ws: Workspace) -> tuple[str, int, int]:
    pos = ws.spec.doc.pos(("spec", "telemetry"))
    return (ws.spec.doc.file, pos.line, pos.col)


def render_otel(inp: RenderInput) -> Rendered:
    """Collector objects for every environment x region a flow runs in, when spec.telemetry
    is set (the k8s renderer emits a leaf, and its Namespace, only where a flow runs)."""
    ws = inp.ws
    leaves = sorted({(p.env.name, p.region) for p in placements(ws)})
    # all they read: mentat.yaml and where flows run
    parts = ("otel", doc_part(ws, ws.spec.doc), *(f"{e}/{r}" for e, r in leaves))
    return unit(inp, parts, (ws.spec.doc.file,), lambda: _collectors(ws, set(leaves)))


def _collectors(ws: Workspace, leaves: set[tuple[str, str]]) -> Rendered:
    out = Rendered()
    telemetry = ws.spec.telemetry
    if not telemetry:
        return out
    origin = _telemetry_origin(ws)
    sources = (ws.spec.doc.file,)
    problem = endpoint_problem(telemetry.endpoint)
    if problem:
        pos = ws.spec.doc.pos(("spec", "telemetry", "endpoint"))
        out.diagnostics.append(Diagnostic("M500", problem, ws.spec.doc.file, pos.line, pos.col))
        return out
    for env in ws.spec.environments:
        mode = collector_mode(env)
        for region in env.regions:
            if (env.name, region) not in leaves:
                continue
            config = collector_config(ws, env, region)
            text = config_yaml(config)
            sha = hashlib.sha256(text.encode()).hexdigest()
            objs = _rbac_and_network(env, region, telemetry.endpoint)
            if mode == "operator":
                objs.append(_operator_object(env, region, config, sha, collector_image(ws)))
            else:
                objs += _plain_objects(env, region, text, sha, collector_image(ws))
            d = f"{env.name}/{region}"
            out.objects += [K8sObject(d, o, sources, origin) for o in objs]
    return out
