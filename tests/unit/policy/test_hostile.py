"""Hostile rule files, fixtures and expressions: refused or bounded, never hanging CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler import pipeline
from compiler.cli import main
from compiler.policy import Limits, verify_dir
from compiler.policy.rules import parse_rule_file
from tests.conftest import WORKSPACE

# Slow on big flows only, yet within cel-cpp's iteration budget: map() is quadratic in this
# build, so mapping 9,000 items takes seconds.
SLOW = ("size(object.spec.nodes) < 100 || "
        f"{list(range(9000))}.map(i, i).size() > 0").replace(" ", "")


def rule_text(expression: str, rid: str = "slow", kinds: str = "[Flow]") -> str:
    return ("apiVersion: mentatlab.io/v1\nkind: PolicyRule\n"
            f"metadata: {{name: {rid}}}\nspec:\n  description: d\n  severity: error\n"
            f"  match: {{kinds: {kinds}}}\n  expression: \"{expression}\"\n  message: m\n")


def big_flow(name: str, nodes: int) -> str:
    node_lines = "".join(f"    - {{id: n{i}, agent: fetcher@^1.0}}\n" for i in range(nodes))
    return (f"apiVersion: mentatlab.io/v1\nkind: Flow\nmetadata: {{name: {name}, version: 1.0.0, "
            f"labels: {{owner: t}}}}\nspec:\n  mode: job\n  schedule: '0 * * * *'\n"
            f"  nodes:\n{node_lines}")


def test_an_expensive_rule_is_cut_off_in_compile(make_ws: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "POLICY_LIMITS", Limits(seconds=0.5))
    ws = WORKSPACE + "  policies: [p/]\n"
    flows = big_flow("a-small", 2) + "---\n" + big_flow("b-huge", 250) + "---\n" + big_flow(
        "c-small", 3)
    root = make_ws({"p/slow.yaml": rule_text(SLOW), "flows/flow.yaml": flows}, workspace=ws)
    result = pipeline.compile_workspace(root)
    m402 = sorted((d.file, d.line, d.message) for d in result.diagnostics if d.code == "M402")
    assert [f for f, _, _ in m402] == ["flows/flow.yaml", "p/slow.yaml"]
    assert "exceeded 0.5s" in m402[0][2] and "Flow/b-huge@1.0.0" in m402[0][2]
    assert "not evaluated on 1 more document(s)" in m402[1][2]
    assert not result.ok and result.files == {}


def test_policy_test_survives_a_hostile_rule(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(rule_text(SLOW))
    (tmp_path / "slow.pass.yaml").write_text(big_flow("huge", 250))
    (tmp_path / "slow.fail.yaml").write_text(big_flow("tiny", 1))
    _, results, _ = verify_dir(tmp_path, Limits(seconds=0.5))
    assert [(r.expect, r.ok) for r in results] == [("pass", False), ("fail", False)]
    assert "limit" in results[0].detail
    r = CliRunner().invoke(main, ["policy", "test", str(tmp_path), "--timeout", "0.5",
                                  "--format", "json"])
    assert r.exit_code == 1 and not json.loads(r.stdout)["ok"]


@pytest.mark.parametrize(("text", "code_in_message"), [
    ("a: !!python/object:os.system ls\n", "not allowed"),
    ("a: &x [1]\nb: *x\nc: {d: 1, d: 2}\n", "duplicate key"),
    ("- 1\n- 2\n", "must be a mapping"),
    ("\xff\xfe".encode("latin-1").decode("latin-1"), "unreadable"),
])
def test_hostile_rule_files_are_diagnostics(text: str, code_in_message: str) -> None:
    rules, diags = parse_rule_file("evil.yaml", text.encode("latin-1"))
    assert rules == () and diags and {d.code for d in diags} == {"M401"}
    assert code_in_message in diags[0].message


def test_an_alias_bomb_rule_file_is_refused() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n"
        for i in range(6))
    rules, diags = parse_rule_file("bomb.yaml", bomb.encode())
    assert rules == () and "alias" in diags[0].message


def test_a_hostile_fixture_is_a_failed_fixture(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(rule_text("object.spec.ok == true", rid="r", kinds="[Agent]"))
    (tmp_path / "r.pass.yaml").write_text("a: !!binary aGk=\n")
    (tmp_path / "r.fail.yaml").write_text("apiVersion: x\nkind: Flow\n")
    _, results, diags = verify_dir(tmp_path)
    assert diags == []
    assert [(r.expect, r.ok) for r in results] == [("pass", False), ("fail", False)]
    assert "unreadable" in results[0].detail and "matches" in results[1].detail
