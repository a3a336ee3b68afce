"""`policy test`: every rule against its fixtures, like `conftest verify` / `kyverno test`.

Fixtures are YAML files named `<rule-id>.pass.yaml` / `<rule-id>.fail.yaml` anywhere below the
rule directory (the default set keeps them in policies/tests/). A fixture file holds the
documents to check: every document the rule matches must pass (`.pass`) or violate it
(`.fail`; a runtime error is not a violation). A `Workspace` document in the file becomes the
`workspace` variable (its spec); for rules on Kubernetes kinds all other documents of the file
are the `siblings`. A waived document counts as passing. A rule needs both fixtures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.load import is_fixture, parse_yaml
from compiler.policy.evaluate import DEFAULT_LIMITS, Limits, Subject
from compiler.policy.rules import RuleSet, load_dir
from compiler.policy.stage import run

__all__ = ["FixtureResult", "run_fixtures", "summary", "verify_dir"]


@dataclass(frozen=True, slots=True)
class FixtureResult:
    rule: str
    fixture: str  # path relative to the tested directory ("" when missing)
    expect: str  # pass | fail
    ok: bool
    detail: str  # why it failed, or how many documents were checked

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "fixture": self.fixture, "expect": self.expect,
                "ok": self.ok, "detail": self.detail}


def _fixtures(base: Path) -> dict[tuple[str, str], Path]:
    out: dict[tuple[str, str], Path] = {}
    for p in sorted(base.rglob("*")):
        if p.is_file() and is_fixture(p.name):
            stem, expect = p.name.rsplit(".", 2)[0], p.name.rsplit(".", 2)[1]
            out.setdefault((stem, expect), p)
    return out


def _check(rules: RuleSet, rule_id: str, expect: str, rel: str, content: bytes,
           limits: Limits) -> FixtureResult:
    docs, diags = parse_yaml(rel, content)
    if diags:
        return FixtureResult(rule_id, rel, expect, False, f"unreadable: {diags[0].message}")
    rule = rules.get(rule_id)
    assert rule is not None
    workspace: dict[str, Any] = {}
    others = []
    for d in docs:
        if d.kind == "Workspace" and isinstance(d.data.get("spec"), dict):
            workspace = d.data["spec"]
        else:
            others.append(d)
    subjects = []
    for d in others:
        p = d.pos(())
        meta = d.data.get("metadata") if isinstance(d.data.get("metadata"), dict) else {}
        name = f"{d.kind}/{meta.get('name', d.index)}"
        subjects.append(Subject(d.kind, d.data, rel, p.line, p.col, name, "fixture", doc=d))
    siblings = {"fixture": [d.data for d in others]}
    res = run(RuleSet((rule,), ()), subjects, workspace, siblings, limits)
    if not res.findings:
        return FixtureResult(rule_id, rel, expect, False, "no document in the file matches "
                             f"the rule (kinds: {', '.join(rule.kinds)})")
    bad = []
    for f in res.findings:
        waived = f.waiver is not None
        if f.status in ("error", "limit", "skipped"):
            bad.append(f"{f.object}: {f.status}: {f.message}")
        elif expect == "pass" and f.status == "fail" and not waived:
            bad.append(f"{f.object} (line {f.line}) violates it: {f.message}")
        elif expect == "fail" and (f.status == "pass" or waived):
            bad.append(f"{f.object} (line {f.line}) does not violate it")
    if bad:
        return FixtureResult(rule_id, rel, expect, False, "; ".join(bad))
    n = len(res.findings)
    return FixtureResult(rule_id, rel, expect, True, f"{n} document{'s' * (n != 1)} {expect}")


def verify_dir(
    base: Path, limits: Limits = DEFAULT_LIMITS, prefix: str = ""
) -> tuple[RuleSet, list[FixtureResult], list[Diagnostic]]:
    """Load the rules under `base` and run each against its fixtures.

    Files are named `prefix` + their path below `base`.
    """
    rule_list, diags = load_dir(base, prefix)
    rules = RuleSet(tuple(sorted(rule_list, key=lambda r: r.id)), tuple(diags))
    return rules, run_fixtures(rules, base, limits, prefix), diags





def run_fixtures(
    rules: RuleSet, base: Path, limits: Limits = DEFAULT_LIMITS, prefix: str = ""
) -> list[FixtureResult]:
    results: list[FixtureResult] = []
    fixtures = _fixtures(base)
    for rule in rules.rules:
        for expect in ("pass", "fail"):
            path = fixtures.get((rule.id, expect))
            if path is None:
                results.append(FixtureResult(rule.id, "", expect, False,
                                             f"missing fixture {rule.id}.{expect}.yaml"))
                continue
            rel = prefix + path.relative_to(base).as_posix()
            results.append(_check(rules, rule.id, expect, rel, path.read_bytes(), limits))
    known = {r.id for r in rules.rules}
    for (stem, expect), path in sorted(fixtures.items()):
        if stem not in known:
            results.append(FixtureResult(stem, prefix + path.relative_to(base).as_posix(), expect,
                                         False,
                                         "fixture for an unknown rule"))
    return results


def summary(results: Sequence[FixtureResult]) -> tuple[int, int]:
    return sum(r.ok for r in results), sum(not r.ok for r in results)
