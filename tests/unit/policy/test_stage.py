"""Both policy phases through the real pipeline: diagnostics, waivers, the policy report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compiler.diagnostics import Severity
from compiler.pipeline import compile_workspace
from tests.conftest import AGENTS, FLOW
from tests.unit.policy.policykit import POLICIES, team_rule, waived_workspace


def codes(result: Any) -> list[str]:
    return sorted(d.code for d in result.diagnostics)


def test_a_violation_points_at_the_document_and_names_the_rule(make_ws: Any) -> None:
    agents = AGENTS.replace("ghcr.io/mentatlab/summarizer@sha256:" + "a" * 64,
                            "ghcr.io/mentatlab/summarizer:1.2.0")
    result = compile_workspace(make_ws(agents=agents))
    assert not result.ok and result.files == {}
    (d,) = [d for d in result.diagnostics if "image-pinned-by-digest" in d.message]
    # at the image (the rule's fieldPath), not at the document's first line
    assert (d.code, d.file, d.line, d.col, d.severity) == ("M400", "flows/agents.yaml", 15, 10,
                                                           Severity.ERROR)
    assert "image-pinned-by-digest" in d.message
    assert "ghcr.io/mentatlab/summarizer:1.2.0' is not pinned by digest" in d.message
    assert "policies/images.yaml" in d.hint and "mentatlab.io/waive-image-pinned-by-digest" in d.hint
    # and again on the rendered Deployments (the rule the cluster enforces), at the flow node
    rendered = [d for d in result.diagnostics if "container-image-digest" in d.message]
    assert rendered and {(d.file, d.line) for d in rendered} == {("flows/flow.yaml", 8)}


def test_the_example_style_workspace_passes_and_reports(make_ws: Any) -> None:
    result = compile_workspace(make_ws())
    assert result.ok, result.diagnostics
    report = json.loads(result.files["policy-report.json"])
    assert report["kind"] == "PolicyReport" and report["waivers"] == []
    assert report["violations"] == []
    by_id = {r["id"]: r for r in report["rules"]}
    assert by_id["run-as-non-root"]["evaluated"] > 0
    assert by_id["run-as-non-root"]["passed"] == by_id["run-as-non-root"]["evaluated"]
    again = compile_workspace(make_ws())
    assert again.files["policy-report.json"] == result.files["policy-report.json"]


def test_a_warning_rule_does_not_fail_the_compile(make_ws: Any) -> None:
    root = make_ws({"team-policies/w.yaml": team_rule("prefer-gpu", "[Agent]",
                                                      "has(object.spec.resources.gpu)",
                                                      "warning")}, workspace=POLICIES)
    result = compile_workspace(root)
    assert result.ok and result.files
    assert {(d.code, d.severity) for d in result.diagnostics} == {("M400", Severity.WARNING)}
    assert all("prefer-gpu says no" in d.message for d in result.diagnostics)
    report = json.loads(result.files["policy-report.json"])
    assert {v["rule"] for v in report["violations"]} == {"prefer-gpu"}


def test_a_waiver_with_a_reason_suppresses_and_is_listed(make_ws: Any) -> None:
    agents = AGENTS.replace(
        "metadata: {name: summarizer, version: 1.2.0}",
        "metadata:\n  name: summarizer\n  version: 1.2.0\n  annotations:\n"
        "    mentatlab.io/waive-prefer-gpu: \"CPU inference is fast enough (PERF-12)\"")
    root = make_ws({"team-policies/w.yaml": team_rule("prefer-gpu", "[Agent]",
                                                      "has(object.spec.resources.gpu)")},
                   workspace=POLICIES, agents=agents)
    result = compile_workspace(root)
    assert [(d.code, d.file, d.line) for d in result.diagnostics] == [
        ("M400", "flows/agents.yaml", 1)]  # fetcher is not waived
    (w,) = result.policy.waivers
    assert (w.rule, w.object, w.file, w.waiver) == (
        "prefer-gpu", "Agent/summarizer@1.2.0", "flows/agents.yaml",
        "CPU inference is fast enough (PERF-12)")


def test_waivers_reach_rendered_objects_and_the_report(make_ws: Any) -> None:
    result = compile_workspace(waived_workspace(make_ws))
    assert result.ok, result.diagnostics
    report = json.loads(result.files["policy-report.json"])
    waived = [w for w in report["waivers"] if w["rule"] == "three-replicas"]
    assert waived and all(w["reason"] == "two are enough here" and w["violated"] for w in waived)
    assert {w["object"] for w in waived} >= {"prod/us-east-1/Deployment/digest-sum"}
    assert all(w["file"] == "flows/flow.yaml" for w in waived)


def test_rendered_violations_point_at_the_object_origin(make_ws: Any) -> None:
    rule = team_rule("three-replicas", "[Deployment]", "object.spec.replicas >= 3")
    result = compile_workspace(make_ws({"team-policies/r.yaml": rule}, workspace=POLICIES))
    assert not result.ok and result.files == {}
    assert {d.code for d in result.diagnostics} == {"M400"}
    assert {(d.file, d.line) for d in result.diagnostics} == {("flows/flow.yaml", 7),
                                                              ("flows/flow.yaml", 8)}
    assert all("three-replicas says no" in d.message for d in result.diagnostics)


def test_a_reasonless_waiver_is_an_error_and_does_not_waive(make_ws: Any) -> None:
    flow = FLOW.replace("labels: {owner: test-team}",
                        "labels: {owner: test-team},\n  annotations: "
                        "{mentatlab.io/waive-flow-owner-label: \" \", "
                        "mentatlab.io/waive-no-such-rule: why}")
    result = compile_workspace(make_ws(flow=flow))
    by_code = {d.code: d for d in result.diagnostics}
    assert set(by_code) == {"M403", "M404"}
    assert by_code["M403"].file == "flows/flow.yaml" and by_code["M403"].line == 4
    assert by_code["M404"].severity is Severity.WARNING
    assert result.policy.waivers == []


def test_rule_errors_stop_evaluation_before_any_document(make_ws: Any) -> None:
    agents = AGENTS.replace("@sha256:" + "a" * 64, ":latest")
    root = make_ws({"team-policies/bad.yaml": team_rule("bad", "[Agent]", "objekt.ok")},
                   workspace=POLICIES, agents=agents)
    result = compile_workspace(root)
    assert codes(result) == ["M401"]
    (d,) = result.diagnostics
    assert (d.file, d.line) == ("team-policies/bad.yaml", 8) and "objekt" in d.message
    assert result.policy.findings == []


def test_a_runtime_error_on_one_document_is_reported_for_it(make_ws: Any) -> None:
    rule = team_rule("gpu-free", "[Agent]", "object.spec.resources.gpu == 0")
    agents = AGENTS.replace("resources: {cpu: 100m, memory: 64Mi}",
                            "resources: {cpu: 100m, memory: 64Mi, gpu: 0}")
    result = compile_workspace(make_ws({"team-policies/r.yaml": rule}, workspace=POLICIES,
                                       agents=agents))
    (d,) = result.diagnostics
    assert d.code == "M402" and d.line == 10 and "gpu-free" in d.message
    assert 'Key not found in map : "gpu"' in d.message and "Agent/summarizer@1.2.0" in d.message


def test_policy_violations_do_not_hide_later_problems(make_ws: Any, tmp_path: Path) -> None:
    flow = FLOW.replace("labels: {owner: test-team}", "labels: {}")
    rule = team_rule("three-replicas", "[Deployment]", "object.spec.replicas >= 3")
    result = compile_workspace(make_ws({"team-policies/r.yaml": rule}, workspace=POLICIES,
                                       flow=flow))
    found = {d.message.split(":")[0] for d in result.diagnostics}
    assert found == {"policy flow-owner-label", "policy three-replicas"}
    assert result.rendered is not None and result.files == {}


def test_rules_are_compiled_once_per_run(make_ws: Any, monkeypatch: Any) -> None:
    from compiler.policy import rules as rules_mod

    calls: list[Any] = []
    real = rules_mod.cel.NewEnv

    def counting(**kw: Any) -> Any:  # one environment per set of declarations
        calls.append(kw)
        return real(**kw)

    monkeypatch.setattr(rules_mod.cel, "NewEnv", counting)
    monkeypatch.setattr(rules_mod, "_ENVS", {})
    rules_mod.parse_rule_file.cache_clear()
    rules_mod.load_rules(None)
    once = len(calls)
    assert 0 < once < len(rules_mod.load_rules(None).rules)  # rules share environments
    calls.clear()
    rules_mod._ENVS.clear()
    rules_mod.parse_rule_file.cache_clear()
    result = compile_workspace(make_ws())  # the policy stage and the VAP renderer share it
    assert result.ok and len(calls) == once
