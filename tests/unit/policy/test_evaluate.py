"""Bounded evaluation: results per document, runtime errors contained, hostile rules stopped."""

from __future__ import annotations

from typing import Any

from compiler.policy.evaluate import Limits, Subject, evaluate
from compiler.policy.rules import Rule, parse_rule_file


def compile_rule(expression: str, *, kinds: str = "[Agent]", extra: str = "",
                 message: str = "message: not ok", rid: str = "r") -> Rule:
    text = ("apiVersion: mentatlab.io/v1\nkind: PolicyRule\n"
            f"metadata: {{name: {rid}}}\nspec:\n  description: d\n  severity: error\n"
            f"  match: {{kinds: {kinds}}}\n{extra}  expression: |\n    {expression}\n"
            f"  {message}\n")
    (rule,), diags = parse_rule_file(f"{rid}.yaml", text.encode())
    assert diags == ()
    return rule


def subject(data: dict[str, Any], kind: str = "Agent", n: int = 0, group: str = "") -> Subject:
    return Subject(kind, {"kind": kind, **data}, "flows/a.yaml", n + 1, 1, f"{kind}/{n}", group)


def statuses(rules: list[Rule], subjects: list[Subject], **kw: Any) -> list[tuple[str, int, str]]:
    return [(o.rule, o.subject, o.status) for o in evaluate(rules, subjects, {}, **kw)]


def test_pass_fail_and_the_rule_message() -> None:
    r = compile_rule("object.spec.ok", message="messageExpression: \"'bad: ' + object.n\"")
    out = evaluate([r], [subject({"spec": {"ok": True}, "n": "a"}),
                         subject({"spec": {"ok": False}, "n": "b"}, n=1)], {})
    assert [(o.subject, o.status, o.message) for o in out] == [(0, "pass", ""),
                                                                (1, "fail", "bad: b")]


def test_a_runtime_error_is_reported_for_that_document_and_the_rest_still_run() -> None:
    r = compile_rule("object.spec.replicas >= 2")
    subjects = [subject({"spec": {"replicas": 3}}, n=0), subject({"spec": {}}, n=1),
                subject({"spec": {"replicas": "two"}}, n=2), subject({"spec": {"replicas": 1}}, n=3)]
    out = evaluate([r], subjects, {})
    assert [o.status for o in out] == ["pass", "error", "error", "fail"]
    assert "no such key: 'replicas'" in out[1].message


def test_a_dyn_expression_that_is_not_bool_at_runtime_is_an_error() -> None:
    r = compile_rule("object.spec.flag")
    out = evaluate([r], [subject({"spec": {"flag": 1}})], {})
    assert (out[0].status, out[0].message) == ("error", "expression returned int, not bool")


def test_rules_match_kinds_and_label_selectors() -> None:
    r = compile_rule("false", kinds="[Flow]")
    labelled = compile_rule("false", kinds="[Flow], labels: {tier: gold}", rid="labelled")
    assert labelled.labels == (("tier", "gold"),)
    subjects = [subject({"metadata": {"labels": {"tier": "gold"}}}, "Flow", 0),
                subject({"metadata": {"labels": {"tier": "tin"}}}, "Flow", 1),
                subject({"metadata": {}}, "Flow", 2), subject({}, "Agent", 3)]
    assert statuses([r, labelled], subjects) == [
        ("r", 0, "fail"), ("labelled", 0, "fail"), ("r", 1, "fail"), ("r", 2, "fail")]


def test_workspace_and_siblings_are_bound() -> None:
    r = compile_rule("siblings.exists(s, s.kind == 'NetworkPolicy') && "
                     "workspace.name == 'demo'", kinds="[Deployment]")
    subjects = [subject({}, "Deployment", 0, "prod/a"), subject({}, "Deployment", 1, "prod/b")]
    siblings = {"prod/a": [{"kind": "Deployment"}, {"kind": "NetworkPolicy"}],
                "prod/b": [{"kind": "Deployment"}]}
    out = evaluate([r], subjects, {"name": "demo"}, siblings)
    assert [o.status for o in out] == ["pass", "fail"]


def test_a_hostile_rule_is_stopped_and_the_others_still_run() -> None:
    # cel-rust has no cost limit: three nested comprehensions over 400 items run for minutes
    slow = compile_rule("object.l.map(a, object.l.map(b, object.l.map(c, a + b + c)))"
                        ".size() > 0", rid="slow")
    fine = compile_rule("size(object.l) > 0", rid="fine")
    subjects = [subject({"l": [1]}, n=0), subject({"l": list(range(400))}, n=1),
                subject({"l": [1, 2]}, n=2)]
    out = statuses([slow, fine], subjects, limits=Limits(seconds=0.5))
    assert out == [("slow", 0, "pass"), ("fine", 0, "pass"),
                   ("slow", 1, "limit"), ("fine", 1, "pass"),
                   ("slow", 2, "skipped"), ("fine", 2, "pass")]


def test_memory_is_capped() -> None:
    hog = compile_rule("(object.s + object.s + object.s + object.s).size() > 0", rid="hog")
    subjects = [subject({"s": "x"}, n=0), subject({"s": "x" * (48 << 20)}, n=1)]
    out = evaluate([hog], subjects, {}, limits=Limits(seconds=60, memory=64 << 20))
    assert [o.status for o in out] == ["pass", "limit"]
    assert "crashed" in out[1].message


def test_nothing_to_evaluate_forks_nothing() -> None:
    assert evaluate([compile_rule("true", kinds="[Flow]")], [subject({})], {}) == []
