"""Stage 4, policy: CEL rules over source documents and rendered objects (DESIGN.md "Policies").

- `rules`     rule files → validated `Rule`s, their CEL type-checked and compiled by
              cel-expr-python (cel-cpp), cached per file
- `evaluate`  bounded evaluation in a forked child (time and memory limits)
- `stage`     the two pipeline phases, waivers, policy-report.json
- `fixtures`  `mentatctl policy test`
"""

from compiler.policy.evaluate import Limits, Outcome, Subject, evaluate
from compiler.policy.fixtures import FixtureResult, verify_dir
from compiler.policy.rules import Rule, RuleSet, load_dir, load_rules
from compiler.policy.stage import (
    WAIVER_PREFIX,
    Finding,
    PolicyResult,
    check_rendered,
    check_sources,
    report,
    waiver_lines,
    waivers_json,
)

__all__ = [
    "WAIVER_PREFIX",
    "Finding",
    "FixtureResult",
    "Limits",
    "Outcome",
    "PolicyResult",
    "Rule",
    "RuleSet",
    "Subject",
    "check_rendered",
    "check_sources",
    "evaluate",
    "load_dir",
    "load_rules",
    "report",
    "verify_dir",
    "waiver_lines",
    "waivers_json",
]
