"""Bounded evaluation: results per document, runtime errors contained, hostile rules stopped."""

from __future__ import annotations

from typing import Any

from compiler.policy.evaluate import ITERATION_BUDGET, Limits, Subject, evaluate
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
    r = compile_rule("object.spec.ok == true",
                     message="messageExpression: \"'bad: ' + object.n\"")
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
    assert out[1].message == 'Key not found in map : "replicas"'
    assert "No matching overloads" in out[2].message  # 'two' >= 2


def test_a_failing_message_expression_is_an_error_for_that_document() -> None:
    r = compile_rule("object.ok == true", message="messageExpression: \"'bad ' + object.n\"")
    out = evaluate([r], [subject({"ok": False}), subject({"ok": False, "n": "x"}, n=1)], {})
    assert [(o.status, o.message) for o in out] == [
        ("error", 'messageExpression: Key not found in map : "n"'), ("fail", "bad x")]


VARIABLES = ("  variables:\n"
             "    - {name: pod, expression: \"object.spec.template.spec\"}\n"
             "    - {name: names, expression: \"variables.pod.containers.map(c, c.name)\"}\n")


def test_variables_are_evaluated_in_order_and_failures_are_lazy() -> None:
    uses = compile_rule("variables.names.all(n, n != 'root')", extra=VARIABLES, rid="uses")
    skips = compile_rule("!has(object.spec.template) || !has(variables.pod.hostNetwork)",
                         extra=VARIABLES, rid="skips")
    fine = {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}
    root = {"spec": {"template": {"spec": {"containers": [{"name": "root"}]}}}}
    out = evaluate([uses, skips], [subject(fine), subject(root, n=1), subject({"spec": {}}, n=2)],
                   {})
    assert [(o.rule, o.subject, o.status) for o in out] == [
        ("uses", 0, "pass"), ("skips", 0, "pass"), ("uses", 1, "fail"), ("skips", 1, "pass"),
        ("uses", 2, "error"), ("skips", 2, "pass")]  # `pod` fails, but `skips` never reads it
    assert out[4].message == (  # `names` reads `pod`, which has no value: the chain, named
        'variables.names: variables.pod: Key not found in map : "template"')


def test_a_variable_the_binding_cannot_hand_on_fails_only_where_read() -> None:
    extra = ("  variables:\n    - {name: o, expression: \"dyn(object.?spec)\"}\n"
             "    - {name: n, expression: \"object.l.all(a, object.l.all(b, true))\"}\n")
    unread = compile_rule("true || variables.o == 1 || variables.n", extra=extra, rid="unread")
    read = compile_rule("variables.o == 1", extra=extra, rid="read")
    budget = compile_rule("variables.n", extra=extra, rid="budget")
    out = evaluate([unread, read, budget], [subject({"spec": 1, "l": list(range(200))})], {})
    assert [o.status for o in out] == ["pass", "error", "error"]
    assert out[1].message.startswith("variables.o: its value cannot be handed on")
    assert out[2].message.startswith("variables.n: iteration budget exceeded")


def test_rules_sharing_variable_names_do_not_share_other_values() -> None:
    a = compile_rule("variables.n == 1", rid="a",
                     extra="  variables:\n    - {name: n, expression: \"size(object.l)\"}\n")
    b = compile_rule("variables.n == 1", rid="b",
                     extra="  variables:\n    - {name: n, expression: \"object.l[0]\"}\n")
    c = compile_rule("variables.n == 1", rid="c",
                     extra="  variables:\n    - {name: n, expression: \"size(object.l)\"}\n")
    out = evaluate([a, b, c], [subject({"l": [5]}), subject({"l": [1, 2]}, n=1)], {})
    assert [(o.rule, o.subject, o.status) for o in out] == [
        ("a", 0, "pass"), ("b", 0, "fail"), ("c", 0, "pass"),
        ("a", 1, "fail"), ("b", 1, "pass"), ("c", 1, "fail")]


def test_the_libraries_iteration_budget_fails_that_document_only() -> None:
    # cel-cpp stops an evaluation after ITERATION_BUDGET comprehension iterations
    pairs = compile_rule("object.l.all(a, object.l.all(b, a + b >= 0))")
    subjects = [subject({"l": list(range(99))}), subject({"l": list(range(100))}, n=1),
                subject({"l": [1, 2]}, n=2)]
    out = evaluate([pairs], subjects, {})
    assert [o.status for o in out] == ["pass", "error", "pass"]
    assert "iteration budget" in out[1].message and f"{ITERATION_BUDGET:,}" in out[1].message


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
    # within the iteration budget, but map() is quadratic in this build of cel-cpp:
    # seconds for 9,000 items
    slow = compile_rule("object.l.map(a, a).size() > 0", rid="slow")
    fine = compile_rule("size(object.l) > 0", rid="fine")
    subjects = [subject({"l": [1]}, n=0), subject({"l": list(range(9000))}, n=1),
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
    assert out[1].message == "evaluation exceeded the memory limit (64 MiB)"


def test_nothing_to_evaluate_forks_nothing() -> None:
    assert evaluate([compile_rule("true", kinds="[Flow]")], [subject({})], {}) == []


def test_a_rule_reading_siblings_gives_each_object_its_own_outcome_when_run_per_group(
        monkeypatch: Any) -> None:
    """Evaluated once per sibling group, then per object wherever the group's run is not a
    clean `true`: the outcomes are those of one evaluation per object."""
    import sys

    ev = sys.modules["compiler.policy.evaluate"]  # the package exports a function by that name

    r = compile_rule("siblings.exists(s, s.kind == 'NetworkPolicy' && "
                     "s.metadata.name == variables.want) && object.spec.n > 0",
                     kinds="[Deployment]",
                     extra="  variables:\n    - {name: want, expression: \"object.spec.np\"}\n",
                     message="messageExpression: \"'no policy ' + variables.want\"")
    group = [{"kind": "NetworkPolicy", "metadata": {"name": "a"}}]
    subjects = [subject({"spec": {"np": "a", "n": 1}}, "Deployment", 0, "g"),
                subject({"spec": {"np": "b", "n": 1}}, "Deployment", 1, "g"),  # fails
                subject({"spec": {"n": 1}}, "Deployment", 2, "g"),  # its variable fails
                subject({"spec": {"np": "a", "n": "x"}}, "Deployment", 3, "g"),  # an error
                subject({"spec": {"np": "a", "n": 2}}, "Deployment", 4, "g"),
                subject({"spec": {"np": "a", "n": 1}}, "Deployment", 5, "h")]  # alone
    # each object is among its siblings, as the rendered phase gives them
    siblings = {g: [*group, *(s.source for s in subjects if s.group == g)] for g in "gh"}

    def run() -> list[tuple[int, str, str]]:
        return [(o.subject, o.status, o.message) for o in evaluate([r], subjects, {}, siblings)]

    grouped = run()
    with monkeypatch.context() as m:  # what the group's run did not pass is now an error
        m.setattr(ev, "_run_one", lambda *_: ("error", "evaluated on its own"))
        m.setattr(ev._Bindings, "bound_passes", lambda *_: False)
        clean = [subjects[i] for i in (0, 1, 4)]  # an error in the batch fails all of it
        assert [o.status for o in evaluate([r], clean, {}, siblings)] == ["pass", "error",
                                                                          "pass"]
    monkeypatch.setattr(ev, "_group_program", lambda rule: None)
    assert grouped == run()
    assert [s for _, s, _ in grouped] == ["pass", "fail", "error", "error", "pass", "pass"]
    assert grouped[1][2] == "no policy b"
