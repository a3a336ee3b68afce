"""The Kubernetes renderer: what each flow becomes, per environment × region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from compiler.model import WasmBundle
from compiler.pipeline import compile_workspace
from compiler.render import RenderInput
from compiler.render import k8s as k8s_render
from compiler.render.k8s_meta import k8s_name

DIGEST = "c" * 64


def iter_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]["spec"]["containers"]


def objects(root: Path) -> dict[str, dict[str, Any]]:
    result = compile_workspace(root)
    assert result.ok, result.diagnostics
    return {p: yaml.safe_load(b) for p, b in result.files.items() if p.endswith(".yaml")}


def test_service_flow_objects_per_environment_and_region(make_ws) -> None:  # type: ignore[no-untyped-def]
    objs = objects(make_ws())
    leaves = sorted({p.rsplit("/", 1)[0] for p in objs if p.count("/") == 2})
    assert leaves == ["prod/eu-west-1", "prod/us-east-1", "staging/eu-west-1"]
    leaf = sorted(p.split("/")[-1] for p in objs if p.startswith("prod/us-east-1/"))
    assert leaf == [
        "configmap-digest-graph.yaml", "deployment-digest-fetch.yaml",
        "deployment-digest-sum.yaml", "kustomization.yaml", "namespace-mentat-prod.yaml",
        "networkpolicy-digest-default-deny.yaml", "networkpolicy-digest-fetch-egress.yaml",
        "networkpolicy-digest-fetch-to-sum.yaml", "networkpolicy-digest-sum-egress.yaml",
        "service-digest-fetch.yaml", "service-digest-sum.yaml", "serviceaccount-digest.yaml",
    ]
    ns = objs["prod/us-east-1/namespace-mentat-prod.yaml"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_workload_labels_selector_security_and_source(make_ws) -> None:  # type: ignore[no-untyped-def]
    dep = objects(make_ws())["prod/us-east-1/deployment-digest-sum.yaml"]
    labels = dep["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "summarizer"
    assert labels["app.kubernetes.io/version"] == "1.2.0"
    assert labels["app.kubernetes.io/managed-by"] == "mentatctl"
    assert labels["mentatlab.io/flow"] == "digest" and labels["mentatlab.io/agent"] == "summarizer"
    assert dep["metadata"]["annotations"]["mentatlab.io/source"] == \
        "flows/agents.yaml,flows/flow.yaml,mentat.yaml"
    # the selector never carries versions: a new version must roll out, not be rejected
    assert dep["spec"]["selector"]["matchLabels"] == {"mentatlab.io/flow": "digest",
                                                      "mentatlab.io/node": "sum"}
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (c,) = iter_containers(dep)
    assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                    "capabilities": {"drop": ["ALL"]}}
    assert c["resources"]["limits"] == {"cpu": "500m", "memory": "256Mi"}


def test_network_policies_allow_exactly_the_edges(make_ws) -> None:  # type: ignore[no-untyped-def]
    objs = objects(make_ws())
    deny = objs["prod/us-east-1/networkpolicy-digest-default-deny.yaml"]["spec"]
    assert deny == {"podSelector": {"matchLabels": {"mentatlab.io/flow": "digest"}},
                    "policyTypes": ["Ingress", "Egress"]}
    allow = objs["prod/us-east-1/networkpolicy-digest-fetch-to-sum.yaml"]["spec"]
    assert allow["podSelector"]["matchLabels"]["mentatlab.io/node"] == "sum"
    assert allow["ingress"] == [{"from": [{"podSelector": {"matchLabels": {
        "mentatlab.io/flow": "digest", "mentatlab.io/node": "fetch"}}}],
        "ports": [{"protocol": "TCP", "port": 8080}]}]
    egress = objs["prod/us-east-1/networkpolicy-digest-fetch-egress.yaml"]["spec"]["egress"]
    assert egress[0]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert egress[1]["to"] == [{"podSelector": {"matchLabels": {
        "mentatlab.io/flow": "digest", "mentatlab.io/node": "sum"}}}]
    assert len(egress) == 2  # DNS and its one downstream node; no storage: text pins only


MEDIA = f"""\
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: cam, version: 1.0.0, annotations: {{team.io/contact: "#media"}}}}
spec:
  runtime: container
  image: ghcr.io/mentatlab/cam@sha256:{DIGEST}
  outputs: [{{name: frame, type: image, stream: true}}]
  resources: {{cpu: 1, memory: 1Gi, gpu: 1}}
  secrets: [{{name: TOKEN, secretRef: {{name: cam-creds, key: token}}}}]
  egress: [{{cidr: 0.0.0.0/0, except: [10.0.0.0/8], ports: [443]}}]
"""

MEDIA_FLOW = """\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: watch, version: 2.0.0, labels: {owner: media}}
spec:
  mode: stream
  regions: [eu-west-1]
  nodes: [{id: cam, agent: cam@1, replicas: 1}]
  scheduling:
    nodeSelector: {gpu: "yes"}
    tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]
    priorityClassName: high
    queue: gpus
  overrides:
    prod: {nodes: {cam: {replicas: 3, resources: {memory: 2Gi}}}}
"""


def test_media_stream_gpu_scheduling_secrets_and_overrides(make_ws) -> None:  # type: ignore[no-untyped-def]
    objs = objects(make_ws({"flows/agents.yaml": MEDIA, "flows/flow.yaml": MEDIA_FLOW}))
    assert not any(p.startswith("prod/us-east-1/") for p in objs)  # regions: [eu-west-1]
    staging = objs["staging/eu-west-1/deployment-watch-cam.yaml"]
    prod = objs["prod/eu-west-1/deployment-watch-cam.yaml"]
    assert staging["spec"]["replicas"] == 1 and prod["spec"]["replicas"] == 3
    (c,) = iter_containers(prod)
    assert c["resources"]["limits"] == {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "1"}
    env = {e["name"]: e for e in c["env"]}
    assert env["TOKEN"] == {"name": "TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "cam-creds", "key": "token"}}}
    assert env["MENTAT_STORAGE_ENDPOINT"]["value"] == "http://minio.mentat-system:9000"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "minio-creds"
    assert [p["name"] for p in c["ports"]] == ["http", "stream"]
    pod = prod["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpu": "yes"} and pod["priorityClassName"] == "high"
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert prod["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpus"
    assert prod["metadata"]["annotations"]["team.io/contact"] == "#media"
    egress = objs["prod/eu-west-1/networkpolicy-watch-cam-egress.yaml"]["spec"]["egress"]
    assert {"ports": [{"protocol": "TCP", "port": 9000}], "to": [{"namespaceSelector": {
        "matchLabels": {"kubernetes.io/metadata.name": "mentat-system"}}}]} in egress
    assert {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
            "ports": [{"protocol": "TCP", "port": 443}]} in egress
    svc = objs["prod/eu-west-1/service-watch-cam.yaml"]
    assert [p["port"] for p in svc["spec"]["ports"]] == [8080, 8081]


JOB_FLOW = """\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: nightly, version: 1.0.0, labels: {owner: test-team}}
spec:
  mode: job
  schedule: "30 2 * * *"
  expectedDurationSeconds: 600
  scheduling: {queue: batch}
  nodes:
    - {id: fetch, agent: fetcher@^1.0}
    - {id: sum, agent: summarizer@1.2.0, replicas: 2}
  edges:
    - {from: fetch.articles, to: sum.text}
"""


def test_job_flows_become_cronjobs_passing_pins_through_storage(make_ws) -> None:  # type: ignore[no-untyped-def]
    objs = objects(make_ws({"flows/flow.yaml": JOB_FLOW}))
    cron = objs["prod/us-east-1/cronjob-nightly-sum.yaml"]
    assert cron["spec"]["schedule"] == "30 2 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]
    assert job["metadata"]["labels"] == {"kueue.x-k8s.io/queue-name": "batch"}
    assert job["spec"]["parallelism"] == 2 and job["spec"]["activeDeadlineSeconds"] == 2400
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    (c,) = iter_containers(cron)
    assert "MENTAT_STORAGE_BUCKET" in {e["name"] for e in c["env"]}
    assert not any("/service-" in p for p in objs)
    unscheduled = JOB_FLOW.replace('  schedule: "30 2 * * *"\n', "")
    objs = objects(make_ws({"flows/flow.yaml": unscheduled}))
    assert objs["prod/us-east-1/job-nightly-sum.yaml"]["kind"] == "Job"


def test_job_flow_with_edges_needs_storage(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import WORKSPACE

    ws = "".join(line + "\n" for line in WORKSPACE.splitlines() if "storage" not in line)
    result = compile_workspace(make_ws({"flows/flow.yaml": JOB_FLOW}, workspace=ws))
    assert {d.code for d in result.diagnostics} == {"M500"}
    assert result.diagnostics[0].file == "flows/flow.yaml"


def test_long_names_are_truncated_stably_and_distinctly() -> None:
    a = k8s_name("a" * 40, "b" * 30)
    b = k8s_name("a" * 40, "b" * 29 + "c")
    assert len(a) == 63 and len(b) == 63 and a != b
    assert a == k8s_name("a" * 40, "b" * 30)
    assert k8s_name("x", "y") == "x-y"


def test_colliding_object_names_are_reported(make_ws) -> None:  # type: ignore[no-untyped-def]
    flows = """\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: a-b, version: 1.0.0}
spec:
  mode: service
  nodes: [{id: c, agent: fetcher@1}]
---
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: a, version: 1.0.0}
spec:
  mode: service
  nodes: [{id: b-c, agent: fetcher@1}]
"""
    result = compile_workspace(make_ws({"flows/flow.yaml": flows}))
    assert "M500" in {d.code for d in result.diagnostics}
    assert any("rendered twice" in d.message for d in result.diagnostics)


WASM = """\
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {name: upper, version: 1.0.0}
spec:
  runtime: wasm
  module: upper.wat
  env: [{name: SECRETLESS, value: "not granted"}]
  outputs: [{name: o, type: text}]
  resources: {cpu: 50m, memory: 32Mi}
"""


def test_wasm_agents_reference_their_bundle_digest(make_ws) -> None:  # type: ignore[no-untyped-def]
    flow = "apiVersion: mentatlab.io/v1\nkind: Flow\nmetadata: {name: w, version: 1.0.0}\n" \
           "spec:\n  mode: service\n  nodes: [{id: u, agent: upper@1}]\n"
    root = make_ws({"flows/agents.yaml": WASM, "flows/flow.yaml": flow,
                    "flows/upper.wat": "(module)"})
    linked = compile_workspace(root, stop_after="link")
    assert linked.workspace is not None and not linked.diagnostics
    bundle = WasmBundle("upper@1.0.0", "sha256:" + "d" * 64, "sha256:" + "e" * 64,
                        "bundles/upper-1.0.0")
    out = k8s_render.render(RenderInput(linked.workspace, {"upper@1.0.0": bundle}))
    assert not out.diagnostics
    dep = next(o.obj for o in out.objects if o.kind == "Deployment")
    pod = dep["spec"]["template"]
    assert pod["spec"]["runtimeClassName"] == "wasmtime"
    assert pod["spec"]["containers"][0]["image"] == "ghcr.io/mentatlab/upper@sha256:" + "d" * 64
    assert pod["metadata"]["annotations"] == {"mentatlab.io/module-digest": "sha256:" + "e" * 64}
    assert {o.kind for o in out.objects} >= {"RuntimeClass"}
    # runwasi hands the pod environment and files to the module: nothing it was not granted
    container = pod["spec"]["containers"][0]
    assert container["env"] == [] and "volumeMounts" not in container
    assert "volumes" not in pod["spec"] and "readinessProbe" not in container
    missing = k8s_render.render(RenderInput(linked.workspace, {}))
    assert [d.code for d in missing.diagnostics] == ["M500", "M500", "M500"]  # one per leaf


def test_storage_endpoint_credentials_and_bad_ports_are_refused(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import WORKSPACE

    for endpoint, why in (("http://minio:secretpw@minio.mentat-system:9000", "credentials"),
                          ("http://minio.mentat-system:99999", "invalid port")):
        ws = WORKSPACE.replace("http://minio.mentat-system:9000", endpoint)
        result = compile_workspace(make_ws({"flows/flow.yaml": MEDIA_FLOW,
                                            "flows/agents.yaml": MEDIA}, workspace=ws))
        assert [(d.code, d.file, d.line) for d in result.diagnostics] == [
            ("M500", "mentat.yaml", 11)], result.diagnostics
        assert why in result.diagnostics[0].message
        assert "secretpw" not in result.diagnostics[0].message and not result.files
