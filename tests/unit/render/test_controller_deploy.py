"""spec.controller renders the controller's own deployment into every leaf a flow runs in:
mentat-system, least-privilege RBAC scoped to the environment's namespace, a hardened
Deployment running `mentatctl controller` for that very leaf."""

from __future__ import annotations

from typing import Any

from compiler.render import RenderInput
from compiler.render.controller_deploy import MANAGED_ROLE, NAME, NAMESPACE, render

IMAGE = "ghcr.io/mentatlab/mentatctl@sha256:" + "1" * 64
ENVS = [{"name": "staging", "namespace": "mentat-staging", "regions": ["eu-west-1"]},
        {"name": "prod", "namespace": "mentat-prod", "regions": ["us-east-1"]}]


def _objects(build: Any, controller: dict[str, Any] | None) -> list[Any]:
    flow = build.flow("svc", [("n", build.agent(), 1)])
    ws = build.workspace(ENVS, (flow,))
    if controller is not None:
        ws.spec.doc.data["spec"]["controller"] = controller
    return render(RenderInput(ws)).objects


def test_nothing_without_spec_controller(build: Any) -> None:
    assert _objects(build, None) == []


def test_one_controller_per_leaf_scoped_to_its_namespace(build: Any) -> None:
    objs = _objects(build, {"image": IMAGE, "source": "https://git.example/flows.git", "interval": "30s"})
    assert sorted({o.dir for o in objs}) == ["prod/us-east-1", "staging/eu-west-1"]
    leaf = {(o.kind, o.obj["metadata"].get("namespace", ""), o.name): o.obj for o in objs
            if o.dir == "staging/eu-west-1"}
    assert len({(o.kind, o.name) for o in objs if o.dir == "staging/eu-west-1"}) == len(leaf)  # one file each
    assert sorted(leaf) == [
        ("ClusterRole", "", f"{NAME}-staging-eu-west-1"),
        ("ClusterRoleBinding", "", f"{NAME}-staging-eu-west-1"),
        ("Deployment", NAMESPACE, NAME),
        ("Namespace", "", NAMESPACE),
        ("NetworkPolicy", NAMESPACE, NAME),
        ("Role", "mentat-staging", MANAGED_ROLE),
        ("Role", NAMESPACE, NAME),
        ("RoleBinding", "mentat-staging", MANAGED_ROLE),
        ("RoleBinding", NAMESPACE, NAME),
        ("ServiceAccount", NAMESPACE, NAME),
    ]
    cluster_rules = leaf[("ClusterRole", "", f"{NAME}-staging-eu-west-1")]["rules"]
    assert sorted(r for rule in cluster_rules for r in rule["resources"]) == [
        "customresourcedefinitions", "namespaces", "validatingadmissionpolicies",
        "validatingadmissionpolicybindings"]
    assert all("*" not in rule["resources"] and "*" not in rule["verbs"]
               for o in leaf.values() if o["kind"] in ("Role", "ClusterRole") for rule in o["rules"])
    dep = leaf[("Deployment", NAMESPACE, NAME)]
    [c] = dep["spec"]["template"]["spec"]["containers"]
    assert c["image"] == IMAGE
    assert c["args"][:9] == ["controller", "--source", "https://git.example/flows.git", "--path", "rendered",
                             "--env", "staging", "--region", "eu-west-1"]
    assert "--interval" in c["args"] and c["args"][c["args"].index("--interval") + 1] == "30s"
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["requests"] == c["resources"]["limits"] == {"cpu": "250m", "memory": "256Mi"}
