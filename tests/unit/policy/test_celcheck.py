"""Static checks of CEL: result type, variables in scope, known functions, size guards."""

from __future__ import annotations

import cel
import pytest

from compiler.policy.celcheck import MAX_DEPTH, MAX_LENGTH, CelError, Type, analyze, inline

SCOPE = frozenset({"object", "workspace"})


@pytest.mark.parametrize(("src", "expected"), [
    ("object.a == 1", Type.BOOL),
    ("has(object.spec) && object.spec.x", Type.BOOL),
    ("object.l.all(c, c.image.startsWith('ghcr.io/'))", Type.BOOL),
    ("object.a", Type.DYN),
    ("1 + 2", Type.INT),
    ("'a' + object.name", Type.STRING),
    ("object.l.map(x, x.name)", Type.LIST),
    ("{'a': 1}", Type.MAP),
    ("size(object.l)", Type.INT),
    ("object.a + object.b", Type.NONBOOL),
    ("true ? object.a : false", Type.DYN),
    ("type(object.a) == string", Type.BOOL),
    ("!object.flag", Type.BOOL),
    ("-object.n", Type.NONBOOL),
    ("3.5", Type.DOUBLE),
    ("2u", Type.UINT),
    ("b'x'", Type.BYTES),
    ("null", Type.NULL),
])
def test_result_types(src: str, expected: Type) -> None:
    assert analyze(src, SCOPE).type is expected


def test_free_variables_exclude_comprehension_variables() -> None:
    a = analyze("object.l.exists(w, w == workspace.name) && object.l.all(x, x != '')", SCOPE)
    assert a.variables == {"object", "workspace"}


@pytest.mark.parametrize(("src", "message", "offset"), [
    ("objct.a == 1", "unknown variable 'objct'", 0),
    ("object.l.all(c, d.x)", "unknown variable 'd'", 16),
    ("object.l.all(c, true) && c.x", "unknown variable 'c'", 25),  # out of the macro's scope
    ("object.name.lowerAscii() == 'x'", "unknown function 'lowerAscii'", 12),
    ("has(object)", "has() takes a field selection", 4),
    ("true ? true : 1", "different types (bool and int)", 0),
    ("1 && true", "left operand of '&&' must be bool", 0),
    ("object.l.all(c, 1)", "the predicate of all() must be bool", 16),
    ("!1", "operand of '!' must be bool", 0),
    ("true + 1", "not defined on bool", 5),
    ("variables.nope", "undeclared variable 'variables.nope'", 10),
    ("object{a: 1}", "message construction", 6),
    ("object.l.all(1, true)", "needs a variable name", 13),
])
def test_errors_name_the_problem_and_where(src: str, message: str, offset: int) -> None:
    with pytest.raises(CelError) as e:
        analyze(src, SCOPE | {"variables"}, {})
    assert message in e.value.message
    assert e.value.offset == offset


def test_declared_variables_carry_their_types() -> None:
    a = analyze("variables.names.exists(n, n == 'x')", SCOPE | {"variables"},
                {"names": Type.LIST})
    assert a.type is Type.BOOL and a.selected == {"names"}
    assert analyze("variables.count", SCOPE | {"variables"}, {"count": Type.INT}).type is Type.INT


def test_size_guards_run_before_any_parser() -> None:
    with pytest.raises(CelError, match="longer than"):
        analyze("1 == 1 && " * (MAX_LENGTH // 9) + "true", SCOPE)
    with pytest.raises(CelError, match="nested deeper"):
        analyze("(" * (MAX_DEPTH + 1) + "true" + ")" * (MAX_DEPTH + 1), SCOPE)
    with pytest.raises(CelError, match="nested deeper"):
        analyze("!" * (MAX_DEPTH + 1) + "true", SCOPE)
    assert analyze("(" * MAX_DEPTH + "true" + ")" * MAX_DEPTH, SCOPE).type is Type.BOOL


def test_brackets_inside_strings_do_not_count() -> None:
    assert analyze("object.a == '" + "(" * 200 + "'", SCOPE).type is Type.BOOL


def test_inline_substitutes_variables_and_keeps_the_value() -> None:
    variables = {"pod": "object.spec", "names": "(object.spec).containers.map(c, c.name)"}
    src = "variables.names.all(n, n != 'variables.pod') && size(variables.pod.containers) > 0"
    out = inline(src, variables)
    assert "variables.names" not in out and "'variables.pod'" in out  # strings untouched
    data = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    assert cel.compile(out).execute({"object": data}) is True
    assert inline("object.variables.pod", variables) == "object.variables.pod"
