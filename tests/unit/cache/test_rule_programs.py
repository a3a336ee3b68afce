"""Policy rule files that compiled cleanly keep their checked CEL programs in the
incremental cache: a later compile deserializes them instead of compiling the CEL again and
judges exactly as a cold compile does; programs that do not fit the file are compiled
instead; a rule file with an error is compiled, and reported, every time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler import resources
from compiler.cache import Cache
from compiler.pipeline import compile_workspace
from compiler.policy import rules as policy_rules
from compiler.policy.rules import parse_rule_file, serialized

BROKEN_RULE = """\
apiVersion: mentatlab.io/v1
kind: PolicyRule
metadata: {name: team-broken}
spec:
  description: reads a variable nobody declared
  severity: error
  match: {kinds: [Deployment]}
  expression: undeclared.size() > 0
  message: never
"""


def compile_with_cache(root: Path) -> tuple[list[tuple[str, int, str, str]], Cache]:
    cache = Cache(root)
    result = compile_workspace(root, memos=cache.memos)
    if result.ok and result.workspace is not None:
        cache.save(result.workspace.source_digests)
    return sorted((d.file, d.line, d.code, d.message) for d in result.diagnostics), cache


def test_a_warm_compile_deserializes_the_rules_and_judges_as_a_cold_one(
        make_ws, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    compile_with_cache(root)  # compiles the default set and keeps its programs
    # one replica in prod breaks prod-replicas: the flow's objects are evaluated again
    flow = root / "flows" / "flow.yaml"
    flow.write_text(flow.read_text().replace("replicas: 2", "replicas: 1"))
    cold = sorted((d.file, d.line, d.code, d.message) for d in compile_workspace(root).diagnostics)
    assert any(code == "M400" and "prod-replicas" in msg for _, _, code, msg in cold)
    deserialized: list[Any] = []
    real = policy_rules._deserialized

    def counted(*args: Any) -> Any:
        deserialized.append(args)
        return real(*args)

    policy_rules.parse_rule_file.cache_clear()  # as a fresh process finds it
    monkeypatch.setattr(policy_rules, "_deserialized", counted)
    warm, cache = compile_with_cache(root)
    assert warm == cold
    assert deserialized and "memo" in cache.stats.hits


def test_programs_that_do_not_fit_the_file_are_compiled_instead() -> None:
    path = resources.policies_dir() / "workloads.yaml"
    display, content = "policies/workloads.yaml", path.read_bytes()
    rules, diags = parse_rule_file(display, content)
    checked = serialized(rules)
    assert rules and not diags and len(checked) >= len(rules)
    for programs in (checked, checked[:-1], (*checked, checked[0]), (b"not a program",)):
        again, found = parse_rule_file(display, content, programs)
        assert found == () and shapes(again) == shapes(rules)


def shapes(rules: Any) -> list[tuple[Any, ...]]:
    """What a rule's checked programs say of it (their serialized bytes are not stable:
    protobuf maps)."""
    return [(r.id, str(r.program.return_type()), r.message_program is None,
             [(name, str(p.return_type())) for name, p in r.variable_programs],
             r.bound_program is None) for r in rules]


def test_a_rule_file_with_an_error_is_reported_by_every_compile(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import WORKSPACE

    root = make_ws({"team/broken.yaml": BROKEN_RULE},
                   workspace=WORKSPACE + "  policies: [team/]\n")
    cold = sorted((d.file, d.line, d.code, d.message) for d in compile_workspace(root).diagnostics)
    assert [code for _, _, code, _ in cold] == ["M401"]
    for _ in range(2):
        policy_rules.parse_rule_file.cache_clear()
        warm, _ = compile_with_cache(root)
        assert warm == cold
