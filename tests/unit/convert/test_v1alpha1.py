"""v1alpha1 documents read as v1 inside the loader: the data, the positions, the warning."""

from __future__ import annotations

from compiler.diagnostics import Severity
from compiler.load import parse_yaml
from compiler.model.raw import Pos

AGENT = b"""\
# an old agent
apiVersion: mentatlab.io/v1alpha1
kind: Agent
metadata: {name: pinned, version: 1.0.0}
spec:
  type: container
  image: ghcr.io/mentatlab/pinned@sha256:%s
  pins:
    inputs:
      text: text
      extra: json
    outputs: {summary: text}
  resources: {cpu: 100m}
""" % (b"a" * 64)

FLOW = b"""\
apiVersion: mentatlab.io/v1alpha1
kind: Flow
metadata: {name: f, version: 0.1.0}
spec:
  mode: service
  steps:
    - {id: a, agent: pinned@^1.0}
  edges:
    - "a.summary -> b.text"
    - a.summary->c.text
  overrides:
    prod: {steps: {a: {replicas: 2}}}
"""


def test_agent_reads_as_v1_with_key_order_kept() -> None:
    (doc,), diags = parse_yaml("a.yaml", AGENT)
    assert doc.api_version == "mentatlab.io/v1"
    assert list(doc.data["spec"]) == ["runtime", "image", "inputs", "outputs", "resources"]
    assert doc.data["spec"]["runtime"] == "container"
    assert doc.data["spec"]["inputs"] == [{"name": "text", "type": "text"},
                                          {"name": "extra", "type": "json"}]
    assert doc.data["spec"]["outputs"] == [{"name": "summary", "type": "text"}]
    (warning,) = diags
    assert (warning.code, warning.severity, warning.line, warning.col) == (
        "M111", Severity.WARNING, 2, 13)
    assert "mentatctl migrate" in warning.hint


def test_agent_positions_point_into_the_file_as_written() -> None:
    (doc,), _ = parse_yaml("a.yaml", AGENT)
    assert doc.pos(("spec", "runtime")) == Pos(6, 9)
    assert doc.pos(("spec", "runtime"), key=True) == Pos(6, 3)
    assert doc.pos(("spec", "inputs", 1)) == Pos(11, 7)  # the pin's name in the map
    assert doc.pos(("spec", "inputs", 1, "name")) == Pos(11, 7)
    assert doc.pos(("spec", "inputs", 1, "type")) == Pos(11, 14)  # its type
    assert doc.pos(("spec", "outputs", 0, "type")) == Pos(12, 24)
    assert doc.pos(("spec", "resources", "cpu")) == Pos(13, 20)  # untouched paths stay


def test_flow_reads_as_v1() -> None:
    (doc,), diags = parse_yaml("f.yaml", FLOW)
    spec = doc.data["spec"]
    assert list(spec) == ["mode", "nodes", "edges", "overrides"]
    assert spec["nodes"] == [{"id": "a", "agent": "pinned@^1.0"}]
    assert spec["edges"] == [{"from": "a.summary", "to": "b.text"},
                             {"from": "a.summary", "to": "c.text"}]
    assert spec["overrides"] == {"prod": {"nodes": {"a": {"replicas": 2}}}}
    assert [d.code for d in diags] == ["M111"]
    assert doc.pos(("spec", "nodes", 0, "agent")) == Pos(7, 22)
    assert doc.pos(("spec", "edges", 1, "to")) == Pos(10, 7)
    assert doc.pos(("spec", "overrides", "prod", "nodes", "a", "replicas")) == Pos(12, 34)


def test_an_invalid_old_document_is_left_as_written() -> None:
    bad = FLOW.replace(b"  mode: service\n", b"  mode: service\n  nodes: []\n")
    (doc,), diags = parse_yaml("f.yaml", bad)
    assert doc.api_version == "mentatlab.io/v1alpha1" and "steps" in doc.data["spec"]
    assert diags == []  # validate reports it, against the v1alpha1 schema


def test_v1_documents_are_untouched() -> None:
    v1 = b"apiVersion: mentatlab.io/v1\nkind: Flow\nmetadata: {name: f}\nspec: {steps: 1}\n"
    (doc,), diags = parse_yaml("f.yaml", v1)
    assert doc.data["spec"] == {"steps": 1} and diags == []


def test_conversion_can_be_turned_off() -> None:
    (doc,), diags = parse_yaml("a.yaml", AGENT, convert=False)
    assert doc.api_version == "mentatlab.io/v1alpha1" and diags == []
