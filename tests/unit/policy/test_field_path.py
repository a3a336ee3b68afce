"""A rule names the field it judges (`fieldPath`, as CRD validation rules do): a violation on a
source document points at that field's line and column, or at the nearest enclosing field that
exists; every default rule names one; a malformed path is M401 at the rule."""

from __future__ import annotations

from pathlib import Path

from compiler.pipeline import compile_workspace
from compiler.policy import load_dir
from compiler.policy.rules import DEFAULT_PREFIX, parse_field_path, parse_rule_file
from compiler.resources import policies_dir
from tests.conftest import DIGEST, WORKSPACE


def test_every_default_rule_names_its_field() -> None:
    rules, diags = load_dir(policies_dir(), DEFAULT_PREFIX)
    assert not diags and rules
    assert [r.id for r in rules if not r.field_path] == []


def test_paths_parse_like_crd_field_paths() -> None:
    assert parse_field_path("spec.env[0].name") == ("spec", "env", 0, "name")
    assert parse_field_path(".spec.image") == ("spec", "image")
    assert parse_field_path("metadata.labels['app.kubernetes.io/name']") == (
        "metadata", "labels", "app.kubernetes.io/name")


def test_a_malformed_path_is_refused_at_the_rule() -> None:
    text = b"""apiVersion: mentatlab.io/v1
kind: PolicyRule
metadata: {name: x}
spec:
  description: d
  severity: error
  fieldPath: "spec..image"
  match: {kinds: [Agent]}
  expression: "true"
  message: m
"""
    rules, diags = parse_rule_file("mine/x.yaml", text)
    assert rules == () and [d.code for d in diags] == ["M401"] and "fieldPath" in diags[0].message


def test_findings_point_at_the_field(make_ws) -> None:  # type: ignore[no-untyped-def]
    agents = f"""\
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: fetcher, version: 1.0.0}}
spec:
  runtime: container
  outputs: [{{name: articles, type: text}}]
  image: ghcr.io/mentatlab/fetcher:latest
  resources: {{cpu: 100m, memory: 64Mi}}
---
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: summarizer, version: 1.2.0}}
spec:
  runtime: container
  image: ghcr.io/mentatlab/summarizer@sha256:{DIGEST}
  inputs: [{{name: text, type: text}}]
  outputs: [{{name: summary, type: text}}]
  resources: {{cpu: 500m}}
"""
    root: Path = make_ws(agents=agents)
    found = {(d.message.split(":")[0], d.file, d.line, d.col) for d in compile_workspace(root).diagnostics
             if d.code == "M400" and d.file == "flows/agents.yaml"}
    assert ("policy image-pinned-by-digest", "flows/agents.yaml", 7, 10) in found
    assert ("policy image-no-latest-tag", "flows/agents.yaml", 7, 10) in found
    # spec.resources exists, its missing memory does not: the enclosing field
    assert ("policy resources-set", "flows/agents.yaml", 18, 14) in found


def test_a_missing_field_points_at_its_nearest_ancestor(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import FLOW

    flow = FLOW.replace(", labels: {owner: test-team}", "")
    root: Path = make_ws(flow=flow, workspace=WORKSPACE)
    (d,) = [d for d in compile_workspace(root).diagnostics if "flow-owner-label" in d.message]
    assert (d.file, d.line) == ("flows/flow.yaml", 3)  # metadata: no labels at all
