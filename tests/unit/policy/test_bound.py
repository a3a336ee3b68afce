"""A rule with variables first runs as one program, its variables bound in place (as
Kubernetes evaluates it): a clean `true` there is its pass, and everything else is evaluated
variable by variable as before, so outcomes and messages do not depend on which path ran.
Variables that may hold a value the binding cannot hand on (optionals, timestamps, types...)
get no bound program."""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import Any

import pytest

from compiler import resources
from compiler.load import parse_yaml
from compiler.policy import rules as policy_rules
from compiler.policy import verify_dir
from compiler.policy.evaluate import Subject, evaluate
from compiler.policy.rules import Rule, bound
from tests.unit.policy.test_evaluate import VARIABLES, compile_rule, subject

ev = sys.modules["compiler.policy.evaluate"]  # the package exports a function by that name


@pytest.mark.parametrize(("variable", "json_only"), [
    ("object.spec.template.spec", True),
    ("object.kind == 'CronJob' ? object.spec.jobTemplate : object.spec", True),  # a ternary
    ("object.spec.map(x, string(x.port))", True),  # conversions to JSON types, macros
    ("object.metadata.type", True),  # a field named like a type
    ("object.?spec.orValue({})", False),
    ("object.l[?0]", False),
    ("{?'a': object.x}", False),
    ("optional.none()", False),
    ("timestamp(object.t)", False),
    ("duration('1s')", False),
    ("type(object)", False),
    ("object.x == string ? 1 : 2", False),  # a type as a value
    ("object.n + 1u", False),
    ("uint(object.n)", False),
    ("b'abc'", False),
    ("google.protobuf.Duration{seconds: 1}", False),
    ("dyn(.int)", False),  # names at the root scope
    ("object.ttls.map(x, dyn(.duration(x)))", False),
    ("dyn(.uint(1))", False),
    ("object. ?spec", False),  # `.` and `?` are two tokens
    ("{1: 'x', true: 'y'}", False),  # one key in Python
    ("(object.spec).type", True),
    (".string(object.n)", True),
])
def test_only_variables_that_hold_json_are_bound(variable: str, json_only: bool) -> None:
    assert (bound("true", [("v", variable)]) is not None) is json_only


def test_a_comment_ending_a_variable_or_the_expression_does_not_swallow_the_binding() -> None:
    r = compile_rule("variables.n == 1 // one", extra=(
        "  variables:\n    - name: n\n      expression: |\n        object.n // the count\n"))
    assert r.bound_program is not None
    assert statuses([r], [subject({"n": 1})]) == [("r", 0, "pass")]


def statuses(rules: list[Rule], subjects: list[Subject], **kw: Any) -> list[tuple[str, int, str]]:
    return [(o.rule, o.subject, o.status) for o in evaluate(rules, subjects, {}, **kw)]


def test_a_pass_comes_from_the_bound_program_without_a_variable_activation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    r = compile_rule("variables.names.all(n, n != 'root')", extra=VARIABLES)
    assert r.bound_program is not None
    fine = subject({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}})

    def refuse(*args: Any) -> Any:
        raise RuntimeError("a variable's own activation")

    monkeypatch.setattr(ev._Bindings, "_extend", refuse)  # the forked child inherits it
    assert statuses([r], [fine]) == [("r", 0, "pass")]
    assert statuses([dataclasses.replace(r, bound_program=None)], [fine]) == [("r", 0, "error")]


def outcomes(rules: list[Rule], subjects: list[Subject]) -> list[tuple[str, int, str, str]]:
    return [(o.rule, o.subject, o.status, o.message) for o in evaluate(rules, subjects, {})]


def unbound(rules: list[Rule]) -> list[Rule]:
    return [dataclasses.replace(r, bound_program=None) for r in rules]


def test_fails_errors_and_lazy_variables_come_out_as_variable_by_variable() -> None:
    uses = compile_rule("variables.names.all(n, n != 'root')", extra=VARIABLES, rid="uses",
                        message="messageExpression: \"'root in ' + variables.names.join(',')\"")
    skips = compile_rule("!has(object.spec.template) || !has(variables.pod.hostNetwork)",
                         extra=VARIABLES, rid="skips")
    budget = compile_rule("variables.pod.containers.size() > 0", rid="budget", extra=(
        "  variables:\n    - {name: pod, expression: \"object.spec.template.spec\"}\n"
        "    - {name: n, expression: \"object.l.all(a, object.l.all(b, true))\"}\n"))
    docs = [{"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}, "l": [1]},
            {"spec": {"template": {"spec": {"containers": [{"name": "root"}]}}}},
            {"spec": {}},  # `pod` fails: an error where it is read, a pass where it is not
            {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}},
             "l": list(range(200))}]  # `n` exceeds the iteration budget but is never read
    subjects = [subject(d, n=i) for i, d in enumerate(docs)]
    rules = [uses, skips, budget]
    assert all(r.bound_program is not None for r in rules)
    assert outcomes(rules, subjects) == outcomes(unbound(rules), subjects)
    assert [s for _, _, s, _ in outcomes(rules, subjects)] == [
        "pass", "pass", "pass", "fail", "pass", "pass", "error", "pass", "error",
        "pass", "pass", "pass"]


def test_the_default_set_judges_its_fixtures_alike_either_way() -> None:
    rules, _, diagnostics = verify_dir(resources.policies_dir(), prefix="policies/")
    assert diagnostics == []
    # the rendered ones run on every workload; secrets-by-reference compares `type(...)`
    with_variables = [r for r in rules.rules if r.variables and r.phase == "rendered"]
    assert with_variables and all(r.bound_program is not None for r in with_variables)
    subjects = []
    for fixture in sorted((resources.policies_dir() / "tests").glob("*.yaml")):
        docs, diags = parse_yaml(fixture.name, fixture.read_bytes())
        assert diags == []
        subjects += [Subject(d.data["kind"], d.data, fixture.name, 1, 1, fixture.name, "g")
                     for d in docs if isinstance(d.data, dict) and "kind" in d.data]
    assert len(subjects) >= 20
    siblings = {"g": [s.data for s in subjects]}
    both = [[(o.rule, o.subject, o.status, o.message)
             for o in evaluate(rs, subjects, {}, siblings)] for rs in (rules.rules,
                                                                      unbound(rules.rules))]
    assert both[0] == both[1]
    assert {s for _, _, s, _ in both[0]} >= {"pass", "fail"}


@pytest.mark.parametrize(("variable", "expression"), [
    ("dyn(.int)", "variables.t == int"),
    ("dyn(.timestamp('2020-01-01T00:00:00Z'))", "variables.t == timestamp('2020-01-01T00:00:00Z')"),
    ("dyn(.uint(1))", "type(variables.t) == uint"),
    ("dyn(object. ?spec)", "variables.t.hasValue()"),
    ("{1: 'x', true: 'y'}", "size(variables.t) == 2"),
])
def test_values_the_hand_off_changes_get_no_bound_program(
        variable: str, expression: str, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = f"  variables:\n    - {{name: t, expression: \"{variable}\"}}\n"
    guarded = compile_rule(expression, extra=extra, rid="guarded")
    assert guarded.bound_program is None
    # bound anyway, the program would pass what the rule's own path does not
    monkeypatch.setattr(policy_rules, "_NOT_JSON", re.compile(r"(?!)"))
    forced = compile_rule(expression, extra=extra, rid="forced")
    assert forced.bound_program is not None
    subjects = [subject({"spec": 1})]
    assert statuses([forced], subjects) == [("forced", 0, "pass")]
    assert statuses([guarded], subjects) != [("guarded", 0, "pass")]
