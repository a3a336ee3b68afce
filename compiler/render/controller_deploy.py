"""The controller's own deployment, when the workspace sets `spec.controller`: into every
environment/region leaf a flow runs in, so the cluster it manages runs `mentatctl controller`
for exactly that leaf.

Namespace `mentat-system`; ServiceAccount `mentat-controller`; least-privilege RBAC: a
ClusterRole for the cluster-scoped kinds the compiler renders (Namespaces, CRDs, admission
policies), a Role in the environment's namespace for the namespaced kinds it renders (and
what the collector's Role grants, which RBAC requires the granter to hold), a Role in
mentat-system for the inventory record, attestation and Lease; a non-root Deployment with a
read-only root filesystem and requests = limits; a NetworkPolicy (probes and metrics in,
the API server and the git source out).
"""

from __future__ import annotations

from typing import Any

from compiler.model import Environment, K8sObject, Rendered, Workspace
from compiler.render import RenderInput
from compiler.render.placement import placements

__all__ = ["MANAGED_ROLE", "NAME", "NAMESPACE", "render"]

NAME = "mentat-controller"
NAMESPACE = "mentat-system"
MANAGED_ROLE = f"{NAME}-apply"  # in the environment's namespace
PORT = 8080
_VERBS = ["get", "list", "watch", "create", "patch", "update", "delete"]
_READ = ["get", "list", "watch"]
# The namespaced kinds the compiler renders (compiler/render/k8s*.py, otel.py), by API group.
_NAMESPACED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("configmaps", "services", "serviceaccounts")),
    ("apps", ("deployments",)),
    ("batch", ("cronjobs", "jobs")),
    ("networking.k8s.io", ("networkpolicies",)),
    ("rbac.authorization.k8s.io", ("roles", "rolebindings")),
    ("opentelemetry.io", ("opentelemetrycollectors",)),
)


def _labels(env: Environment, region: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "controller",
            "app.kubernetes.io/managed-by": "mentatctl", "mentatlab.io/environment": env.name,
            "mentatlab.io/region": region}


def _meta(name: str, env: Environment, region: str, namespace: str | None = NAMESPACE) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels(env, region)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _rbac(env: Environment, region: str) -> list[dict[str, Any]]:
    cluster_name = f"{NAME}-{env.name}-{region}"
    subject = [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": _meta(cluster_name, env, region, None),
        "rules": [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": _VERBS},
            {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
             "verbs": _VERBS},
            {"apiGroups": ["admissionregistration.k8s.io"],
             "resources": ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
             "verbs": _VERBS},
        ],
    }
    cluster_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": _meta(cluster_name, env, region, None),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
        "subjects": subject,
    }
    # distinct names: one leaf directory holds both Roles, and its files are named KIND-NAME
    managed = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": _meta(MANAGED_ROLE, env, region, env.namespace),
        "rules": [
            *({"apiGroups": [group], "resources": list(resources), "verbs": _VERBS}
              for group, resources in _NAMESPACED),
            # health (endpoints of Services) and what the collector's Role grants
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
            {"apiGroups": [""], "resources": ["pods"], "verbs": _READ},
            {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": _READ},
        ],
    }
    managed_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": _meta(MANAGED_ROLE, env, region, env.namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": MANAGED_ROLE},
        "subjects": subject,
    }
    own = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": _meta(NAME, env, region),
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": _VERBS},  # inventory, attestation
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": _VERBS},
        ],
    }
    own_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": _meta(NAME, env, region),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
        "subjects": subject,
    }
    return [cluster_role, cluster_binding, managed, managed_binding, own, own_binding]


def _deployment(cfg: dict[str, Any], env: Environment, region: str) -> dict[str, Any]:
    args = ["controller", "--source", str(cfg["source"]), "--path", str(cfg.get("path", "rendered")),
            "--env", env.name, "--region", region, "--trust", "/etc/mentat/trust/root.pem",
            "--interval", str(cfg.get("interval", "60s")), "--listen", f"0.0.0.0:{PORT}",
            "--audit-log", "/var/lib/mentat/audit.jsonl"]
    probe = {"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 10}
    resources = {"cpu": "250m", "memory": "256Mi"}
    container = {
        "name": "controller", "image": str(cfg["image"]), "args": args,
        "env": [{"name": "MENTAT_CACHE", "value": "/var/lib/mentat/cache"},
                {"name": "HOME", "value": "/tmp"}],
        "ports": [{"name": "http", "containerPort": PORT}],
        "livenessProbe": probe,
        "readinessProbe": {**probe, "httpGet": {"path": "/readyz", "port": PORT}},
        "resources": {"requests": resources, "limits": resources},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "privileged": False,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "state", "mountPath": "/var/lib/mentat"},
                         {"name": "tmp", "mountPath": "/tmp"},
                         {"name": "trust", "mountPath": "/etc/mentat/trust", "readOnly": True}],
    }
    selector = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "controller"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(NAME, env, region),
        "spec": {
            "replicas": 1,  # one reconciler per inventory; the Lease enforces it anyway
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": _labels(env, region)},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": True,  # it talks to the API server
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": [{"name": "state", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}},
                                {"name": "trust", "configMap": {"name": str(cfg.get("trustConfigMap",
                                                                                    "mentat-trust"))}}],
                },
            },
        },
    }


def _network_policy(env: Environment, region: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _meta(NAME, env, region),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],  # kubelet probes, Prometheus
            "egress": [{}],  # the API server and the git source: addresses the compiler cannot know
        },
    }


def render(inp: RenderInput) -> Rendered:
    ws: Workspace = inp.ws
    out = Rendered()
    cfg = ws.spec.spec.get("controller")
    if not isinstance(cfg, dict):
        return out
    pos = ws.spec.doc.pos(("spec", "controller"))
    origin = (ws.spec.doc.file, pos.line, pos.col)
    sources = (ws.spec.doc.file,)
    leaves = {(p.env.name, p.region) for p in placements(ws)}
    for env in ws.spec.environments:
        for region in env.regions:
            if (env.name, region) not in leaves:
                continue
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
                "name": NAMESPACE, "labels": {**_labels(env, region),
                                              "pod-security.kubernetes.io/enforce": "restricted",
                                              "pod-security.kubernetes.io/enforce-version": "latest"}}}
            service_account = {"apiVersion": "v1", "kind": "ServiceAccount",
                               "metadata": _meta(NAME, env, region)}
            objs = [namespace, service_account, *_rbac(env, region), _deployment(cfg, env, region),
                    _network_policy(env, region)]
            out.objects += [K8sObject(f"{env.name}/{region}", o, sources, origin) for o in objs]
    return out
