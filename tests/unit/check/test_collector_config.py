"""Deliberately broken collector configs: each must be caught with a precise message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from compiler.check.otel import check_collector_config, check_collector_objects
from compiler.model import K8sObject

GOOD: dict[str, Any] = {
    "receivers": {"otlp": {"protocols": {"grpc": {}, "http": {}}}},
    "processors": {
        "memory_limiter": {"limit_percentage": 80},
        "k8sattributes": {},
        "resource": {"attributes": []},
        "tail_sampling": {"policies": []},
        "batch": {},
    },
    "exporters": {"otlp": {"endpoint": "x:4317"}, "prometheus": {"endpoint": "0.0.0.0:8889"}},
    "extensions": {"health_check": {}},
    "service": {
        "extensions": ["health_check"],
        "pipelines": {
            "traces": {"receivers": ["otlp"],
                       "processors": ["memory_limiter", "k8sattributes", "resource",
                                      "tail_sampling", "batch"],
                       "exporters": ["otlp"]},
            "metrics": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                        "exporters": ["otlp", "prometheus"]},
            "logs": {"receivers": ["otlp"], "processors": ["memory_limiter", "batch"],
                     "exporters": ["otlp"]},
        },
    },
}


def test_the_reference_config_is_clean():
    assert check_collector_config(GOOD) == []


def _pipes(c: dict[str, Any]) -> dict[str, Any]:
    return c["service"]["pipelines"]


def _set_traces(procs: list[str]) -> Callable[[dict[str, Any]], None]:
    def f(c: dict[str, Any]) -> None:
        _pipes(c)["traces"]["processors"] = procs
    return f


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("undefined exporter",
     lambda c: _pipes(c)["logs"]["exporters"].append("otlphttp"),
     "pipeline 'logs': exporter 'otlphttp' is not defined"),
    ("unused processor",
     lambda c: c["processors"].update({"attributes/extra": {}}),
     "processor 'attributes/extra' is defined but not used"),
    ("unused exporter",
     lambda c: c["exporters"].update({"debug": {}}),
     "exporter 'debug' is defined but not used"),
    ("unknown receiver type",
     lambda c: (c["receivers"].update({"jaeger": {}}),
                _pipes(c)["traces"]["receivers"].append("jaeger")),
     "unknown receiver type 'jaeger'"),
    ("unknown processor type",
     lambda c: (c["processors"].update({"groupbytrace": {}}),
                _pipes(c)["traces"]["processors"].insert(1, "groupbytrace")),
     "unknown processor type 'groupbytrace'"),
    ("memory_limiter not first",
     _set_traces(["k8sattributes", "memory_limiter", "resource", "tail_sampling", "batch"]),
     "pipeline 'traces': memory_limiter must be the first processor"),
    ("memory_limiter missing",
     lambda c: _pipes(c)["logs"].update({"processors": ["batch"]}),
     "pipeline 'logs': memory_limiter must be the first processor"),
    ("batch before sampling",
     _set_traces(["memory_limiter", "k8sattributes", "resource", "batch", "tail_sampling"]),
     "pipeline 'traces': batch must come after 'tail_sampling'"),
    ("batch not last",
     _set_traces(["memory_limiter", "k8sattributes", "batch", "resource", "tail_sampling"]),
     "pipeline 'traces': batch must be the last processor"),
    ("batch missing",
     lambda c: _pipes(c)["metrics"].update({"processors": ["memory_limiter"]}),
     "pipeline 'metrics': no batch processor"),
    ("k8sattributes after sampling",
     _set_traces(["memory_limiter", "resource", "tail_sampling", "k8sattributes", "batch"]),
     "pipeline 'traces': 'k8sattributes' must come before batch and sampling"),
    ("tail_sampling on metrics",
     lambda c: _pipes(c)["metrics"].update(
         {"processors": ["memory_limiter", "tail_sampling", "batch"]}),
     "pipeline 'metrics': processor 'tail_sampling' does not support metrics"),
    ("prometheus on traces",
     lambda c: _pipes(c)["traces"]["exporters"].append("prometheus"),
     "pipeline 'traces': exporter 'prometheus' does not support traces"),
    ("unknown signal",
     lambda c: _pipes(c).update({"profiles": copy.deepcopy(_pipes(c)["logs"])}),
     "pipeline 'profiles': unknown signal (traces, metrics or logs)"),
    ("pipeline without receivers",
     lambda c: _pipes(c)["logs"].update({"receivers": []}),
     "pipeline 'logs': no receivers"),
    ("pipeline without exporters",
     lambda c: _pipes(c)["logs"].pop("exporters"),
     "pipeline 'logs': no exporters"),
    ("component listed twice",
     lambda c: _pipes(c)["logs"]["exporters"].append("otlp"),
     "pipeline 'logs': exporter 'otlp' listed twice"),
    ("extension enabled but undefined",
     lambda c: c["service"]["extensions"].append("pprof"),
     "extension 'pprof' is enabled but not defined"),
    ("extension defined but not enabled",
     lambda c: c["extensions"].update({"zpages": {}}),
     "extension 'zpages' is defined but not enabled"),
    ("unknown top-level key",
     lambda c: c.update({"connectors": {}}),
     "unknown top-level key 'connectors'"),
    ("unknown pipeline key",
     lambda c: _pipes(c)["logs"].update({"procesors": []}),
     "pipeline 'logs': unknown key 'procesors'"),
    ("empty name after slash",
     lambda c: c["exporters"].update({"otlp/": {}}),
     "exporter id 'otlp/' has an empty name after '/'"),
]


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in CASES],
                         ids=[n for n, _, _ in CASES])
def test_broken_config_is_caught(mutate, expected):
    config = copy.deepcopy(GOOD)
    mutate(config)
    assert expected in check_collector_config(config)


@pytest.mark.parametrize("bad", [None, [], "receivers: {}", {"service": []},
                                 {"service": {"pipelines": {}}}])
def test_malformed_shapes_do_not_crash(bad):
    assert check_collector_config(bad)


def test_named_components_are_fine():
    config = copy.deepcopy(GOOD)
    config["exporters"]["otlp/backup"] = {"endpoint": "y:4317"}
    _pipes(config)["logs"]["exporters"].append("otlp/backup")
    assert check_collector_config(config) == []


def test_objects_check_reads_configmaps_and_operator_resources():
    bad = copy.deepcopy(GOOD)
    bad["processors"]["unused_thing"] = {}
    import yaml
    cm = {"apiVersion": "v1", "kind": "ConfigMap",
          "metadata": {"name": "mentat-otel-collector", "namespace": "n"},
          "data": {"config.yaml": yaml.safe_dump(bad)}}
    cr = {"apiVersion": "opentelemetry.io/v1beta1", "kind": "OpenTelemetryCollector",
          "metadata": {"name": "mentat-otel", "namespace": "n"}, "spec": {"config": GOOD}}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "graph"},
             "data": {"config.yaml": ":::"}}
    unparsable = {**cm, "data": {"config.yaml": "a: [1"}}
    diags = check_collector_objects([
        K8sObject("prod/eu", cm, ("mentat.yaml",), ("mentat.yaml", 12, 3)),
        K8sObject("prod/us", cr, ("mentat.yaml",), ("mentat.yaml", 12, 3)),
        K8sObject("prod/us", other, ("mentat.yaml",)),
        K8sObject("prod/ap", unparsable, ("mentat.yaml",), ("mentat.yaml", 12, 3)),
    ])
    assert [d.code for d in diags] == ["M601", "M601", "M601"]
    assert {(d.file, d.line, d.col) for d in diags} == {("mentat.yaml", 12, 3)}
    messages = " | ".join(d.message for d in diags)
    assert "prod/eu/ConfigMap mentat-otel-collector: unknown processor type 'unused_thing'" in (
        messages)
    assert "does not parse" in messages


def test_non_string_component_references_are_reported_not_crashed():
    config = copy.deepcopy(GOOD)
    _pipes(config)["logs"]["exporters"] = [{"otlp": None}, 3]
    problems = check_collector_config(config)
    assert "pipeline 'logs': exporter \"{'otlp': None}\" is not defined" in problems
    assert "pipeline 'logs': exporter '3' is not defined" in problems
