"""Rule files: loading, schema, compile-time errors at the rule's file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

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
    assert (r.id, r.phase, r.enforce, r.uses, r.line) == ("r1", "source", False, {"object"}, 3)
    (k,), _ = load(rule("siblings.size() > 0 && workspace.x == object.y", kinds="[Deployment]"))
    assert k.phase == "rendered" and k.uses == {"object", "siblings", "workspace"}


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
    assert "unknown variable 'objekt'" in msg and (line, col) == (10, 7)


def test_unknown_variable_is_refused_with_the_known_ones() -> None:
    line, col, msg = only_error(rule("objekt.spec.ok"))
    assert "unknown variable 'objekt'" in msg and "object, workspace" in msg
    assert (line, col) == (8, 15)
    # siblings exist only for rules on rendered objects
    assert "unknown variable 'siblings'" in only_error(rule("size(siblings) > 0"))[2]


def test_non_bool_expression_and_non_string_message_are_refused() -> None:
    assert "returns int, not bool" in only_error(rule("size(object.spec.l)"))[2]
    assert "returns list, not bool" in only_error(rule("object.spec.l.map(x, x)"))[2]
    text = rule(message="messageExpression: size(object.spec.l)")
    assert "messageExpression returns int, not string" in only_error(text)[2]


def test_unknown_function_is_refused_before_evaluation() -> None:
    assert "unknown function 'lowerAscii'" in only_error(rule("object.n.lowerAscii() == 'a'"))[2]


def test_mixed_phases_and_bad_enforce_are_refused() -> None:
    assert "mixes source kinds" in only_error(rule(kinds="[Agent, Deployment]"))[2]
    msg = only_error(rule(extra="enforce: true\n"))[2]
    assert "enforce: true needs Kubernetes kinds" in msg
    msg = only_error(rule("workspace.x == object.y", kinds="[Deployment]",
                          extra="enforce: true\n"))[2]
    assert "unknown variable 'workspace'" in msg  # not available at admission
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


def test_variables_are_checked_in_order_and_inlined() -> None:
    extra = ("variables:\n"
             "  - {name: a, expression: \"variables.b\"}\n"
             "  - {name: b, expression: \"object.x\"}\n")
    assert "undeclared variable 'variables.b'" in only_error(rule("variables.a", extra=extra))[2]
    extra = ("variables:\n"
             "  - {name: c, expression: \"object.spec.l\"}\n"
             "  - {name: n, expression: \"size(variables.c)\"}\n")
    (r,), diags = load(rule("variables.n > 1", extra=extra))
    assert diags == []
    assert r.program.execute({"object": {"spec": {"l": [1, 2]}}}) is True


def test_unparsable_rule_file_is_one_diagnostic() -> None:
    rules, diags = load("a: [\n")
    assert rules == [] and [d.code for d in diags] == ["M401"]


def test_a_hostile_expression_cannot_overflow_a_parser() -> None:
    deep = "|\n    'x' == " + "(" * 200 + "'x'" + ")" * 200
    assert "nested deeper" in only_error(rule(deep))[2]
    assert "longer than" in only_error(rule("true" + " && true" * 2000))[2]


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
    assert check_stage._validator("1.31", api_version, kind) is not None
    assert resource == kind.lower() + ("es" if kind.endswith(("s", "ss")) else "s") or (
        kind.endswith("y") and resource == kind.lower()[:-1] + "ies")
