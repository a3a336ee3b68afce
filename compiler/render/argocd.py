"""Argo CD objects for a workspace with `spec.argocd` (dir "argocd"): both delivery patterns.

1. Rendered manifests (Argo CD reads the committed tree): an AppProject, one Application per
   destination cluster for `crds/` and one for `policies/`, and an ApplicationSet whose list
   generator makes one Application per environment × region pointing at `<path>/<env>/<region>`.
   Sync waves order them when a parent Application syncs `argocd/` (the root Application in
   `argocd/bootstrap/`): project, then CRDs, then admission policies, then the flows; inside a
   leaf, Argo CD's own kind order applies the Namespace first.
2. A Config Management Plugin (`spec.argocd.cmp`): files in `argocd/cmp/`, outside any
   kustomization (an installation chooses one pattern): `plugin.yaml`, the ConfigMap that
   mounts it, a patch adding the sidecar to `argocd-repo-server`, and an ApplicationSet whose
   Applications run `mentatctl compile --stdout --target ENV/REGION` through the plugin.

Destinations come from `environments[].cluster` (a URL is a `server`, anything else a cluster
`name`); without one, Argo CD's own cluster. Pure: the workspace in, objects and bytes out.
"""

from __future__ import annotations

import re
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.model import Artifact, K8sObject, Rendered
from compiler.model.graph import Workspace
from compiler.model.spec import Environment
from compiler.render import RenderInput, vap
from compiler.render.k8s import targets
from compiler.render.yamlout import dump

__all__ = ["ARGOCD_KINDS", "IN_CLUSTER", "PLUGIN", "TARGET_ENV", "plugin", "render"]

API = "argoproj.io/v1alpha1"
ARGOCD_KINDS = frozenset({(API, "AppProject"), (API, "Application"), (API, "ApplicationSet")})
IN_CLUSTER = "https://kubernetes.default.svc"
PLUGIN = "mentatctl"  # the plugin's name; Argo CD calls it "mentatctl-v1" (name-version)
PLUGIN_VERSION = "v1"
TARGET_ENV = "MENTAT_TARGET"  # an Application's plugin env; the sidecar sees ARGOCD_ENV_ + it
WAVE = "argocd.argoproj.io/sync-wave"
# Cluster-scoped kinds the project lets the Applications manage: what the compiler renders.
_CLUSTER_KINDS = (("", "Namespace"), ("apiextensions.k8s.io", "CustomResourceDefinition"),
                  ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
                  ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"))
_LABELS = {"app.kubernetes.io/managed-by": "mentatctl", "app.kubernetes.io/part-of": "mentatlab"}


def _destination(cluster: str, namespace: str | None = None) -> dict[str, Any]:
    cluster = cluster or IN_CLUSTER
    dest: dict[str, Any] = {"server": cluster} if cluster.startswith("https://") \
        else {"name": cluster}
    if namespace:
        dest["namespace"] = namespace
    return dest


def _slug(cluster: str) -> str:
    """A DNS-label part naming a cluster in Application names (`in-cluster` by default)."""
    if not cluster or cluster == IN_CLUSTER:
        return "in-cluster"
    text = re.sub(r"^https://", "", cluster).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40].strip("-") or "cluster"


def _meta(name: str, namespace: str, wave: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(_LABELS)}
    if wave is not None:
        meta["annotations"] = {WAVE: str(wave)}
    return meta


def _sync(automated: bool) -> dict[str, Any]:
    policy: dict[str, Any] = {"syncOptions": ["ServerSideApply=true"]}
    if automated:
        policy["automated"] = {"prune": True, "selfHeal": True}
    return policy


def _leaves(ws: Workspace) -> list[tuple[Environment, str]]:
    """Every environment × region some flow deploys to, in workspace order (the leaves the
    Kubernetes renderer writes)."""
    found = {(env.name, region) for lf in ws.flows for env, region in targets(lf, ws)}
    return [(env, region) for env in ws.spec.environments for region in env.regions
            if (env.name, region) in found]


def _application(name: str, ns: str, project: str, wave: int, source: dict[str, Any],
                 destination: dict[str, Any], automated: bool) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Application",
        "metadata": _meta(name, ns, wave),
        "spec": {"project": project, "source": source, "destination": destination,
                 "syncPolicy": _sync(automated)},
    }


def plugin() -> dict[str, Any]:
    """plugin.yaml: the sidecar's ConfigManagementPlugin. Argo CD passes an Application's
    plugin env as ARGOCD_ENV_<NAME>; `compile --stdout` prints the leaf with the cluster-wide
    objects, Namespaces and CRDs first (render/order.py)."""
    return {
        "apiVersion": API,
        "kind": "ConfigManagementPlugin",
        "metadata": {"name": PLUGIN},
        "spec": {
            "version": PLUGIN_VERSION,
            "discover": {"fileName": "mentat.yaml"},
            "generate": {
                "command": ["sh", "-c"],
                "args": [f'exec mentatctl compile --stdout --no-cache '
                         f'--target "$ARGOCD_ENV_{TARGET_ENV}"'],
            },
            "preserveFileMode": False,
        },
    }


def _sidecar_patch(image: str, namespace: str) -> dict[str, Any]:
    """A strategic-merge patch adding the plugin's sidecar to Argo CD's repo server, as
    Argo CD's documentation lays one out: argocd-cmp-server as the entry point, the plugin
    config mounted from the ConfigMap, a writable /tmp, non-root."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "argocd-repo-server", "namespace": namespace},
        "spec": {"template": {"spec": {
            "containers": [{
                "name": PLUGIN,
                "image": image,
                "command": ["/var/run/argocd/argocd-cmp-server"],
                "securityContext": {"runAsNonRoot": True, "runAsUser": 999,
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [
                    {"name": "var-files", "mountPath": "/var/run/argocd"},
                    {"name": "plugins", "mountPath": "/home/argocd/cmp-server/plugins"},
                    {"name": "mentatctl-cmp", "mountPath":
                     "/home/argocd/cmp-server/config/plugin.yaml", "subPath": "plugin.yaml"},
                    {"name": "mentatctl-tmp", "mountPath": "/tmp"},
                ],
            }],
            "volumes": [
                {"name": "mentatctl-cmp", "configMap": {"name": "mentatctl-cmp"}},
                {"name": "mentatctl-tmp", "emptyDir": {}},
            ],
        }}},
    }


def _applicationset(name: str, ns: str, project: str, elements: list[dict[str, str]],
                    source: dict[str, Any], automated: bool) -> dict[str, Any]:
    dest_key = "{{.server}}"
    return {
        "apiVersion": API,
        "kind": "ApplicationSet",
        "metadata": _meta(name, ns, 0),
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {
                    "name": f"{name}-{{{{.env}}}}-{{{{.region}}}}",
                    "labels": {**_LABELS, "mentatlab.io/environment": "{{.env}}",
                               "mentatlab.io/region": "{{.region}}"},
                },
                "spec": {
                    "project": project,
                    "source": source,
                    # `server` or `name`: a list element carries one, the other stays empty
                    "destination": {"server": dest_key, "name": "{{.name}}",
                                    "namespace": "{{.namespace}}"},
                    "syncPolicy": _sync(automated),
                },
            },
        },
    }


def _elements(leaves: list[tuple[Environment, str]]) -> list[dict[str, str]]:
    out = []
    for env, region in leaves:
        dest = _destination(env.cluster(region))
        out.append({"env": env.name, "region": region, "namespace": env.namespace,
                    "server": dest.get("server", ""), "name": dest.get("name", "")})
    return out


def _unknown_regions(ws: Workspace) -> list[Diagnostic]:
    """A `cluster` mapping naming a region the environment does not have: a typo that would
    otherwise send that region to Argo CD's own cluster."""
    diags = []
    doc = ws.spec.doc
    for i, env in enumerate(ws.spec.environments):
        mapping = env.extra.get("cluster")
        for region in mapping if isinstance(mapping, dict) else ():
            if region not in env.regions:
                p = doc.pos(("spec", "environments", i, "cluster", region), key=True)
                diags.append(Diagnostic(
                    "M500", f"environment '{env.name}' has no region '{region}' (cluster)",
                    doc.file, p.line, p.col, hint="regions: " + ", ".join(env.regions)))
    return diags


def render(inp: RenderInput) -> Rendered:
    ws = inp.ws
    conf = ws.spec.spec.get("argocd")
    out = Rendered(diagnostics=_unknown_regions(ws))
    if not conf or out.diagnostics:
        return out
    name = ws.spec.name
    ns = conf.get("namespace", "argocd")
    project = conf.get("project", name)
    repo, rev = conf["repoURL"], conf.get("targetRevision", "HEAD")
    path = conf.get("path", ws.spec.output).strip("/")
    automated = conf.get("automated", True)
    ws_file = ws.spec.doc.file
    pos = ws.spec.doc.pos(("spec", "argocd"))
    origin = (ws_file, pos.line, pos.col)

    def add(d: str, obj: dict[str, Any]) -> None:
        out.objects.append(K8sObject(d, obj, (ws_file,), origin))

    leaves = _leaves(ws)
    clusters = sorted({env.cluster(region) or IN_CLUSTER for env, region in leaves})
    destinations = sorted({(env.cluster(region) or IN_CLUSTER, env.namespace)
                           for env, region in leaves})
    add("argocd", {
        "apiVersion": API,
        "kind": "AppProject",
        "metadata": _meta(project, ns, -3),
        "spec": {
            "description": f"mentatlab workspace {name}: compiled by mentatctl",
            "sourceRepos": [repo],
            "destinations": [_destination(c, n) for c, n in destinations]
            + [_destination(c, "") for c in clusters],  # cluster-scoped: CRDs, policies
            "clusterResourceWhitelist": [{"group": g, "kind": k} for g, k in _CLUSTER_KINDS],
            "namespaceResourceWhitelist": [{"group": "*", "kind": "*"}],
        },
    })
    for wave, part in ((-2, "crds"), (-1, "policies")):
        if part == "policies" and not vap.render(inp).objects:
            continue  # no rule with enforce: true (the rules are cached per file)
        for cluster in clusters:
            add("argocd", _application(
                f"{name}-{part}-{_slug(cluster)}", ns, project, wave,
                {"repoURL": repo, "targetRevision": rev, "path": f"{path}/{part}"},
                _destination(cluster), automated))
    elements = _elements(leaves)
    add("argocd", _applicationset(name, ns, project, elements, {
        "repoURL": repo, "targetRevision": rev, "path": f"{path}/{{{{.env}}}}/{{{{.region}}}}",
    }, automated))
    # The root Application: applied once by hand, it syncs argocd/ (waves and all). It lives
    # in Argo CD's "default" project: the workspace's project is one of the things it creates.
    add("argocd/bootstrap", _application(
        f"{name}-root", ns, "default", 0,
        {"repoURL": repo, "targetRevision": rev, "path": f"{path}/argocd"},
        _destination(IN_CLUSTER, ns), automated))
    cmp = conf.get("cmp")
    if cmp:
        plugin_yaml = dump(plugin())
        source = {"repoURL": repo, "targetRevision": rev,
                  "path": conf.get("workspacePath", "."),
                  "plugin": {"name": f"{PLUGIN}-{PLUGIN_VERSION}",
                             "env": [{"name": TARGET_ENV, "value": "{{.env}}/{{.region}}"}]}}
        configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "mentatctl-cmp", "namespace": ns,
                                  "labels": dict(_LABELS)},
                     "data": {"plugin.yaml": plugin_yaml.decode()}}
        for rel, content in (
            ("plugin.yaml", plugin_yaml),
            ("configmap-mentatctl-cmp.yaml", dump(configmap)),
            ("argocd-repo-server-patch.yaml", dump(_sidecar_patch(cmp["image"], ns))),
            (f"applicationset-{name}-cmp.yaml",
             dump(_applicationset(f"{name}-cmp", ns, project, elements, source, automated))),
        ):
            out.artifacts.append(Artifact(f"argocd/cmp/{rel}", content, (ws_file,)))
    return out

