"""Rule files: loading, schema, compile-time errors at the rule's file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cel_expr_python import cel

from compiler import check as check_stage
from compiler import resources
from compiler.policy.rules import KUBE_RESOURCES, load_dir, load_rules, parse_rule_file


def rule(expression: str = "object.spec.ok == true", *, kinds: str = "[Agent]",
         extra: str = "", rid: str = "r1", message: str = "message: not ok") -> str:
    head = ("apiVersion: mentatlab.io/v1\nkind: PolicyRule\n"
            f"metadata: {{name: {rid}}}\nspec:\n  description: a test rule\n"
            f"  severity: error\n  match: {{kinds: {kinds}}}\n")
    return head + textwrap.indent(extra, "  ") + f"  expression: {expression}\n  {message}\n"


def load(text: str) -> tuple[list, list]:
    rules, diags = parse_rule_file("pol/rules.yaml", text.encode())
    return list(rules), list(diags)


def only_error(text: str) -> tuple[int, int, str]:
    rules, diags = load(text)
    assert rules == [] and len(diags) == 1, diags
    d = diags[0]
    assert d.code == "M401" and d.file == "pol/rules.yaml"
    return d.line, d.col, d.message


def test_the_default_set_loads_cleanly_and_has_at_least_twelve_rules() -> None:
    rules = load_rules(None)
    assert rules.diagnostics == ()
    assert len(rules.rules) >= 12
    assert [r.id for r in rules.rules] == sorted(r.id for r in rules.rules)
    assert all(r.file.startswith("policies/") for r in rules.rules)


def test_every_default_rule_has_a_pass_and_a_fail_fixture() -> None:
    tests = resources.policies_dir() / "tests"
    for r in load_rules(None).rules:
        assert (tests / f"{r.id}.pass.yaml").is_file(), r.id
        assert (tests / f"{r.id}.fail.yaml").is_file(), r.id


def test_a_valid_rule_compiles_with_its_phase_and_variables() -> None:
    (r,), diags = load(rule())
    assert diags == []
    assert (r.id, r.phase, r.enforce, r.line) == ("r1", "source", False, 3)
    assert r.program.return_type() == cel.Type.BOOL and r.message_program is None
    (k,), diags = load(rule("siblings.size() > 0 && workspace.x == object.y",
                            kinds="[Deployment]"))
    assert diags == [] and k.phase == "rendered"


def test_syntax_error_points_into_the_expression() -> None:
    line, col, msg = only_error(rule("object.spec.ok == "))
    assert "CEL does not compile" in msg and "r1" in msg
    assert (line, col) == (8, 32)  # just past the '==' on the expression's line


def test_syntax_error_in_a_literal_block_points_at_its_line() -> None:
    text = rule("|\n    object.spec.ok &&\n      object..x", message="message: m")
    line, col, msg = only_error(text)
    assert "CEL does not compile" in msg
    assert text.splitlines()[line - 1] == "      object..x"  # the offending line of the block
    assert col == 14  # the second '.'
    text = rule("|\n    object.spec.ok &&\n      objekt.x", message="message: m")
    line, col, msg = only_error(text)
    assert "undeclared reference to 'objekt.x'" in msg
    assert (line, col) == (10, 13)  # cel-cpp points at the selection's '.'


def test_unknown_variable_is_refused_with_the_known_ones() -> None:
    rules, (d,) = load(rule("objekt.spec.ok"))
    assert rules == [] and "undeclared reference to 'objekt.spec.ok'" in d.message
    assert d.hint is not None and "in scope: object, workspace;" in d.hint
    assert (d.line, d.col) == (8, 26)
    # siblings exist only for rules on rendered objects
    assert "undeclared reference to 'siblings'" in only_error(rule("size(siblings) > 0"))[2]


def test_non_bool_expression_and_non_string_message_are_refused() -> None:
    assert "returns int, not bool" in only_error(rule("size(object.spec.l)"))[2]
    assert "returns list<dyn>, not bool" in only_error(rule("object.spec.l.map(x, x)"))[2]
    text = rule(message="messageExpression: size(object.spec.l)")
    assert "messageExpression returns int, not string" in only_error(text)[2]


def test_a_dyn_result_is_refused_as_kubernetes_refuses_it() -> None:
    # Kubernetes wants the exact type: a field of `object` (dyn) is not a bool yet
    assert "expression returns dyn, not bool" in only_error(rule("object.spec.ok"))[2]
    assert "returns dyn" in only_error(rule("|\n    object.a ? object.b : false"))[2]
    text = rule(message="messageExpression: object.spec.text")
    assert "messageExpression returns dyn, not string" in only_error(text)[2]
    for fine in ("object.spec.ok == true", "!object.spec.ok", "object.a && object.b",
                 "object.l.all(x, x.ok)", "has(object.spec) ? object.spec.ok == true : false"):
        assert load(rule("|\n    " + fine))[1] == [], fine


def test_unknown_function_is_refused_before_evaluation() -> None:
    # Kubernetes' own lists library is not in cel-cpp: refused here, not at admission time
    _, (d,) = load(rule("object.l.isSorted()"))
    assert "undeclared reference to 'isSorted'" in d.message and "lists" in (d.hint or "")
    assert "undeclared reference to 'nope'" in only_error(rule("nope(object) == 1"))[2]


@pytest.mark.parametrize("expression", [
    "object.name.lowerAscii().startsWith('a')",  # strings extension, version 2
    "['a', 'b'].join('-') == object.name",
    "object.name.split('/').size() == 2",
    "'%s-%d'.format(['a', 1]) == object.name",
    "object.?spec.?replicas.orValue(1) >= 1",  # optional types
    "object.name.matches('^[a-z]+$')",
    "type(object.value) == string",
])
def test_the_kubernetes_extensions_we_share_compile(expression: str) -> None:
    assert load(rule("|\n    " + expression))[1] == []


def test_a_rule_cannot_use_what_kubernetes_1_29_lacks() -> None:
    assert "undeclared reference" in only_error(rule("object.name.reverse() == 'a'"))[2]
    assert "undeclared reference" in only_error(rule("cel.bind(x, 1, x == 1)"))[2]


def test_mixed_phases_and_bad_enforce_are_refused() -> None:
    assert "mixes source kinds" in only_error(rule(kinds="[Agent, Deployment]"))[2]
    msg = only_error(rule(extra="enforce: true\n"))[2]
    assert "enforce: true needs Kubernetes kinds" in msg
    msg = only_error(rule("workspace.x == object.y", kinds="[Deployment]",
                          extra="enforce: true\n"))[2]
    assert "undeclared reference to 'workspace.x'" in msg  # not available at admission
    msg = only_error(rule(kinds="[Widget]", extra="enforce: true\n"))[2]
    assert "Deployment" in msg and "Widget" not in KUBE_RESOURCES


def test_schema_errors_point_at_the_field() -> None:
    rules, diags = load(rule(extra="severty: error\n"))
    assert rules == [] and diags and all(d.code == "M401" for d in diags)
    assert any("severty" in d.message for d in diags)
    assert "exactly one of message and messageExpression" in only_error(rule(message=""))[2]
    both = rule(message="message: a\n  messageExpression: \"'b'\"")
    assert "exactly one of message and messageExpression" in only_error(both)[2]
    assert "does not match" in only_error(rule(rid="Bad_Id"))[2]


def test_variables_are_checked_in_order_with_their_types() -> None:
    extra = ("variables:\n"
             "  - {name: a, expression: \"variables.b\"}\n"
             "  - {name: b, expression: \"object.x\"}\n")
    line, _, msg = only_error(rule("variables.a == 1", extra=extra))
    assert "undeclared reference to 'variables.b'" in msg and line == 9  # the first variable
    extra = ("variables:\n"
             "  - {name: c, expression: \"object.spec.l\"}\n"
             "  - {name: n, expression: \"size(variables.c)\"}\n")
    (r,), diags = load(rule("variables.n > 1", extra=extra))
    assert diags == []
    assert [(n, p.return_type()) for n, p in r.variable_programs] == [
        ("c", cel.Type.DYN), ("n", cel.Type.INT)]
    # the checked type travels: an int variable is not a bool
    assert "returns int, not bool" in only_error(rule("variables.n", extra=extra))[2]
    optional = "variables:\n  - {name: o, expression: \"object.?spec\"}\n"
    msg = only_error(rule("variables.o.hasValue()", extra=optional))[2]
    assert "variable 'o' is of type optional_type<dyn>" in msg
    unwrapped = "variables:\n  - {name: o, expression: \"object.?spec.?ok.orValue(false)\"}\n"
    assert load(rule("variables.o == true", extra=unwrapped))[1] == []
    twice = ("variables:\n  - {name: c, expression: \"1\"}\n"
             "  - {name: c, expression: \"2\"}\n")
    assert "declared twice" in only_error(rule(extra=twice))[2]


def test_unparsable_rule_file_is_one_diagnostic() -> None:
    rules, diags = load("a: [\n")
    assert rules == [] and [d.code for d in diags] == ["M401"]


def test_a_hostile_expression_is_refused_by_the_parser_limits() -> None:
    deep = "|\n    'x' == " + "(" * 200 + "'x'" + ")" * 200
    line, _, msg = only_error(rule(deep))
    assert "recursion limit exceeded" in msg and line == 8
    chain = "|\n    object.a" + ".b" * 100 + " == 1"
    assert "max recursion depth" in only_error(rule(chain))[2]
    assert "exceeds codepoint limit" in only_error(rule("true" + " && true" * 20000))[2]
    (r,), _ = load(rule("true" + " && true" * 1000))  # long but flat is fine
    assert r.program.return_type() == cel.Type.BOOL


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_load_dir_skips_fixtures_tests_and_hidden_files(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": rule(rid="a"), "r1.pass.yaml": "x: 1\n",
                     "tests/b.yaml": rule(rid="b"), ".hidden/c.yaml": rule(rid="c"),
                     "sub/d.yml": rule(rid="d")})
    rules, diags = load_dir(tmp_path, "p/")
    assert diags == [] and sorted(r.id for r in rules) == ["a", "d"]
    assert {r.file for r in rules} == {"p/a.yaml", "p/sub/d.yml"}


def test_workspace_policies_add_rules_and_stay_inside(tmp_path: Path) -> None:
    write(tmp_path, {"mine/extra.yaml": rule(rid="team-rule")})
    rules = load_rules(tmp_path, ["mine"])
    assert rules.get("team-rule") is not None and rules.get("run-as-non-root") is not None
    assert rules.get("team-rule").file == "mine/extra.yaml"  # type: ignore[union-attr]
    outside = load_rules(tmp_path, ["../elsewhere", "/etc"])
    assert [d.code for d in outside.diagnostics] == ["M107", "M107"]
    missing = load_rules(tmp_path, ["nope"])
    assert [d.code for d in missing.diagnostics] == ["M401"]


def test_a_symlinked_rule_file_leaving_the_workspace_is_refused(tmp_path: Path) -> None:
    ws, other = tmp_path / "ws", tmp_path / "other"
    write(other, {"evil.yaml": rule(rid="evil")})
    (ws / "mine").mkdir(parents=True)
    (ws / "mine" / "evil.yaml").symlink_to(other / "evil.yaml")
    rules = load_rules(ws, ["mine"])
    assert rules.get("evil") is None
    assert [d.code for d in rules.diagnostics] == ["M107"]


def test_a_rule_id_defined_twice_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"mine/a.yaml": rule(rid="run-as-non-root")})
    rules = load_rules(tmp_path, ["mine"])
    (d,) = rules.diagnostics
    assert d.code == "M401" and "defined twice" in d.message and d.file == "mine/a.yaml"


@pytest.mark.parametrize("kind", sorted(KUBE_RESOURCES))
def test_admission_resources_name_real_kubernetes_kinds(kind: str) -> None:
    group, version, resource = KUBE_RESOURCES[kind]
    api_version = f"{group}/{version}" if group else version
    assert check_stage.schema_text("1.31", api_version, kind) is not None
    assert resource == kind.lower() + ("es" if kind.endswith(("s", "ss")) else "s") or (
        kind.endswith("y") and resource == kind.lower()[:-1] + "ies")
