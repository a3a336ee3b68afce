from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from compiler.check import check
from compiler.check.otel import check_collector_config, check_collector_objects
from compiler.render import RenderInput
from compiler.render.otel import (
    COLLECTOR_NAME,
    collector_config,
    config_yaml,
    parse_endpoint,
    render_otel,
)

COLLECTOR_IMAGE = ("ghcr.io/mentatlab/otel-collector-contrib"
                   "@sha256:757f706ba828985aa0e37d43764331d3538028f6bb945ebb8b4b0db16d12bb2d")
TELEMETRY = {
    "endpoint": "http://otel-backend:4317",
    "collectorImage": COLLECTOR_IMAGE,
    "sampling": {"ratio": 0.1, "keepErrors": True, "slowerThanMs": 2000},
}
ENVS = [
    {"name": "staging", "namespace": "mentat-staging", "regions": ["eu-west-1"]},
    {"name": "prod", "namespace": "mentat-prod", "regions": ["us-east-1", "eu-west-1"],
     "collector": "operator"},
]


def _ws(build, telemetry=TELEMETRY, envs=ENVS, **kw):
    """A workspace with one service flow running everywhere."""
    flow = build.flow("svc", [("n", build.agent(), 1)], **kw)
    return build.workspace(envs, (flow,), telemetry=telemetry)


def _by(objs: list[Any], d: str, kind: str) -> dict[str, Any]:
    return next(o.obj for o in objs if o.dir == d and o.kind == kind)


def test_no_telemetry_renders_nothing(build):
    out = render_otel(RenderInput(build.workspace(ENVS)))
    assert out.objects == [] and out.diagnostics == []


def test_every_environment_region_gets_a_collector_in_its_mode(build):
    out = render_otel(RenderInput(_ws(build)))
    assert out.diagnostics == []
    kinds = {(o.dir, o.kind) for o in out.objects}
    common = {"ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"}
    assert kinds == (
        {("staging/eu-west-1", k) for k in common | {"ConfigMap", "Deployment", "Service"}}
        | {(d, k) for d in ("prod/us-east-1", "prod/eu-west-1")
           for k in common | {"OpenTelemetryCollector"}}
    )
    for o in out.objects:
        ns = "mentat-staging" if o.dir.startswith("staging") else "mentat-prod"
        assert o.obj["metadata"]["namespace"] == ns
        assert o.sources == ("mentat.yaml",)


def test_plain_objects_match_what_agents_expect(build):
    out = render_otel(RenderInput(_ws(build)))
    svc = _by(out.objects, "staging/eu-west-1", "Service")
    assert svc["metadata"]["name"] == COLLECTOR_NAME
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": COLLECTOR_NAME}
    assert {p["port"] for p in svc["spec"]["ports"]} >= {4317, 4318}
    dep = _by(out.objects, "staging/eu-west-1", "Deployment")
    pod = dep["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == COLLECTOR_NAME
    (c,) = pod["spec"]["containers"]
    assert c["image"] == COLLECTOR_IMAGE and "@sha256:" in c["image"]
    assert len(c["image"].split("@sha256:")[1]) == 64
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]
    assert pod["spec"]["serviceAccountName"] == COLLECTOR_NAME
    cm = _by(out.objects, "staging/eu-west-1", "ConfigMap")
    text = cm["data"]["config.yaml"]
    assert check_collector_config(yaml.safe_load(text)) == []

    assert pod["metadata"]["annotations"]["mentatlab.io/config-sha256"] == (
        hashlib.sha256(text.encode()).hexdigest()
    )


def test_operator_resource_names_give_the_same_service(build):
    out = render_otel(RenderInput(_ws(build)))
    cr = _by(out.objects, "prod/us-east-1", "OpenTelemetryCollector")
    assert cr["apiVersion"] == "opentelemetry.io/v1beta1"
    # the operator names its Deployment/Service "<name>-collector"
    assert cr["metadata"]["name"] + "-collector" == COLLECTOR_NAME
    assert cr["spec"]["serviceAccount"] == COLLECTOR_NAME
    assert cr["spec"]["securityContext"]["readOnlyRootFilesystem"] is True
    assert check_collector_config(cr["spec"]["config"]) == []
    resource = cr["spec"]["config"]["processors"]["resource"]
    attrs = {a["key"]: a["value"] for a in resource["attributes"]}
    assert attrs == {"deployment.environment": "prod", "cloud.region": "us-east-1",
                     "mentatlab.workspace": "demo"}


def test_only_where_a_flow_runs(build):
    out = render_otel(RenderInput(_ws(build, regions=("eu-west-1",))))
    assert {o.dir for o in out.objects} == {"staging/eu-west-1", "prod/eu-west-1"}
    out = render_otel(RenderInput(_ws(build, environments=("prod",), regions=("us-east-1",))))
    assert {o.dir for o in out.objects} == {"prod/us-east-1"}
    assert render_otel(RenderInput(build.workspace(ENVS, telemetry=TELEMETRY))).objects == []


def test_pipelines_and_sampling(build):
    ws = _ws(build)
    cfg = collector_config(ws, ws.spec.environments[0], "eu-west-1")
    pipes = cfg["service"]["pipelines"]
    assert set(pipes) == {"traces", "metrics", "logs"}
    assert pipes["traces"]["processors"] == [
        "memory_limiter", "k8sattributes", "resource", "tail_sampling", "batch"]
    for sig in ("metrics", "logs"):
        assert "tail_sampling" not in pipes[sig]["processors"]
        assert pipes[sig]["processors"][0] == "memory_limiter"
    assert pipes["metrics"]["exporters"] == ["otlp", "prometheus"]
    assert cfg["exporters"]["otlp"] == {"endpoint": "otel-backend:4317", "tls": {"insecure": True}}
    policies = cfg["processors"]["tail_sampling"]["policies"]
    assert [p["type"] for p in policies] == ["status_code", "latency", "probabilistic"]
    assert policies[1]["latency"] == {"threshold_ms": 2000}
    # exact: 0.1 * 100 in binary floating point would be 10.000000000000002
    assert policies[2]["probabilistic"] == {"sampling_percentage": 10.0}
    assert cfg["processors"]["k8sattributes"]["filter"] == {"namespace": "mentat-staging"}


def test_without_sampling_there_is_no_tail_sampling(build):
    ws = build.workspace(ENVS, telemetry={"endpoint": "https://otlp.example.com",
                                               "collectorImage": COLLECTOR_IMAGE})
    cfg = collector_config(ws, ws.spec.environments[0], "eu-west-1")
    assert "tail_sampling" not in cfg["processors"]
    assert cfg["exporters"]["otlp"] == {"endpoint": "otlp.example.com:443"}
    assert check_collector_config(cfg) == []


def test_partial_sampling_only_declared_policies(build):
    ws = build.workspace(ENVS, telemetry={**TELEMETRY, "endpoint": "x:4317", "sampling": {"keepErrors": False,
                                                                             "ratio": 1}})
    cfg = collector_config(ws, ws.spec.environments[0], "eu-west-1")
    (policy,) = cfg["processors"]["tail_sampling"]["policies"]
    assert policy["probabilistic"] == {"sampling_percentage": 100.0}


def test_config_text_is_deterministic_and_round_trips(build):
    ws = _ws(build)
    a = config_yaml(collector_config(ws, ws.spec.environments[1], "eu-west-1"))
    b = config_yaml(collector_config(ws, ws.spec.environments[1], "eu-west-1"))
    assert a == b
    assert yaml.safe_load(a) == collector_config(ws, ws.spec.environments[1], "eu-west-1")
    assert a.index("receivers:") < a.index("processors:") < a.index("service:")


def test_endpoint_parsing():
    assert parse_endpoint("http://otel-backend:4317") == ("http", "otel-backend", 4317, True)
    assert parse_endpoint("https://otlp.example.com") == ("https", "otlp.example.com", 443, False)
    assert parse_endpoint("collector.obs:55680") == ("http", "collector.obs", 55680, True)
    assert parse_endpoint("http://10.0.0.7") == ("http", "10.0.0.7", 4317, True)


def _egress_backend(out, d: str) -> dict[str, Any]:
    return _by(out.objects, d, "NetworkPolicy")["spec"]["egress"][0]


def test_network_policy_ingress_and_egress(build):
    out = render_otel(RenderInput(_ws(build)))
    spec = _by(out.objects, "staging/eu-west-1", "NetworkPolicy")["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": COLLECTOR_NAME}}
    otlp_in = spec["ingress"][0]
    assert otlp_in["from"] == [{"podSelector": {"matchExpressions": [
        {"key": "mentatlab.io/flow", "operator": "Exists"}]}}]
    assert {p["port"] for p in otlp_in["ports"]} == {4317, 4318}
    # bare service name: a Service in the collector's own namespace
    assert spec["egress"][0] == {"to": [{"podSelector": {}}],
                                 "ports": [{"protocol": "TCP", "port": 4317}]}
    assert any(p["port"] == 53 and p["protocol"] == "UDP"
               for rule in spec["egress"] for p in rule["ports"])


def test_network_policy_egress_by_endpoint_kind(build):
    def egress(endpoint: str) -> dict[str, Any]:
        out = render_otel(RenderInput(_ws(build, {**TELEMETRY, "endpoint": endpoint})))
        return _egress_backend(out, "staging/eu-west-1")

    assert egress("http://tempo.observability.svc.cluster.local:4317")["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}]
    assert egress("http://tempo.mentat-staging:4317")["to"] == [{"podSelector": {}}]
    assert egress("http://10.1.2.3:4317")["to"] == [{"ipBlock": {"cidr": "10.1.2.3/32"}}]
    assert egress("http://[fd00::1]:4317")["to"] == [{"ipBlock": {"cidr": "fd00::1/128"}}]
    external = egress("https://otlp.vendor.example.com")
    assert "to" not in external and external["ports"] == [{"protocol": "TCP", "port": 443}]


def test_rendered_objects_pass_the_collector_check(build):
    out = render_otel(RenderInput(_ws(build)))
    assert check_collector_objects(out.objects) == []


def test_a_config_bug_is_m601_from_the_check_stage(build, monkeypatch):
    import compiler.render.otel as otel

    real = otel.collector_config

    def broken(ws, env, region):
        cfg = real(ws, env, region)
        cfg["service"]["pipelines"]["traces"]["processors"].reverse()
        return cfg

    monkeypatch.setattr(otel, "collector_config", broken)
    out = render_otel(RenderInput(_ws(build)))
    assert out.diagnostics == []  # render renders; the check stage judges
    diags = check(out.objects)
    assert diags and {d.code for d in diags} == {"M601"}
    assert all(d.file == "mentat.yaml" and "compiler bug" in d.hint for d in diags)
    assert any("memory_limiter must be the first" in d.message for d in diags)


@pytest.mark.parametrize(("endpoint", "why"), [
    ("http://", "has no host"),
    ("http://:4317", "has no host"),
    ("http://otel:99999", "invalid port"),
    ("http://otel:port", "invalid port"),
    ("http://otel:4317/v1/traces", "has a path"),
    ("http://otel:4317?x=1", "has a path"),
    ("https://user:secret@otel.example.com", "carries credentials"),
    ("http://secret@otel:4317", "carries credentials"),
])
def test_unusable_endpoints_are_diagnosed_at_the_field(build, endpoint, why):
    out = render_otel(RenderInput(_ws(build, {**TELEMETRY, "endpoint": endpoint})))
    assert out.objects == []
    (d,) = out.diagnostics
    assert d.code == "M500" and why in d.message and d.file == "mentat.yaml"
    assert "secret" not in d.message


def test_ipv6_endpoint_is_bracketed(build):
    ws = _ws(build, {**TELEMETRY, "endpoint": "http://[fd00::1]:4317"})
    cfg = collector_config(ws, ws.spec.environments[0], "eu-west-1")
    assert cfg["exporters"]["otlp"]["endpoint"] == "[fd00::1]:4317"


def test_collector_image_can_be_a_mirror(build):
    mirror = "ghcr.io/mentatlab/otelcol-contrib@sha256:" + "b" * 64
    out = render_otel(RenderInput(_ws(build, {**TELEMETRY, "collectorImage": mirror})))
    images = {o.dir: (o.obj["spec"]["template"]["spec"]["containers"][0]["image"]
                      if o.kind == "Deployment" else o.obj["spec"]["image"])
              for o in out.objects if o.kind in ("Deployment", "OpenTelemetryCollector")}
    assert set(images.values()) == {mirror} and len(images) == 3
