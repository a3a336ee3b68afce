"""The rendered ValidatingAdmissionPolicies, installed in a real apiserver, give the same verdict
as the compiler's own policy engine on every document of the rules' pass and fail fixtures:
a document the compiler finds in violation is denied with the rule's message, and a compliant
one is admitted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from compiler.load import parse_yaml
from compiler.policy.evaluate import Subject
from compiler.policy.rules import RuleSet, load_rules
from compiler.policy.stage import run
from tests.cluster.kit import RENDERED, REPO, apply, ensure_namespaces, leaf_objects, wait_for

pytestmark = pytest.mark.cluster

NAMESPACE = "mentat-staging"  # a namespace the bindings select
RULES = load_rules(None)
ENFORCED = sorted(r.id for r in RULES.rules if r.enforce)


def _fixture_docs(rule_id: str) -> list[tuple[str, dict[str, Any], Any]]:
    out = []
    for expect in ("pass", "fail"):
        rel = f"policies/tests/{rule_id}.{expect}.yaml"
        docs, diags = parse_yaml(rel, (REPO / rel).read_bytes())
        assert not diags
        out += [(f"{rel}#{d.index}", d.data, d) for d in docs if d.kind != "Workspace"]
    return out


def _compiler_verdict(data: dict[str, Any], doc: Any) -> dict[str, str]:
    """rule id -> message, for every enforced rule the compiler finds violated (not waived)."""
    rules = RuleSet(tuple(r for r in RULES.rules if r.enforce), ())
    p = doc.pos(())
    subject = Subject(data["kind"], data, "fixture", p.line, p.col, data["kind"], "fixture",
                      doc=doc)
    res = run(rules, [subject], {}, {"fixture": [data]})
    return {f.rule: f.message for f in res.findings if f.status == "fail" and f.waiver is None}


@pytest.fixture(scope="module")
def policies(cluster):
    ensure_namespaces(cluster)
    objects = leaf_objects(RENDERED / "policies")
    apply(cluster, objects)
    # Admission picks new policies up asynchronously: wait until a known violation is denied.
    name, data = next((n, d) for rid in ENFORCED for n, d, doc in _fixture_docs(rid)
                           if _compiler_verdict(d, doc))
    probe = {**data, "metadata": {**data["metadata"], "namespace": NAMESPACE}}
    wait_for(lambda: apply(cluster, [probe], dry_run=True, check=False).returncode != 0,
             f"the admission policies to deny {name}")
    return cluster


def test_every_enforced_rule_is_rendered() -> None:
    rendered = {o["metadata"]["labels"]["mentatlab.io/policy"]
                for o in leaf_objects(RENDERED / "policies")
                if o["kind"] == "ValidatingAdmissionPolicy"}
    assert rendered == set(ENFORCED)
    assert len(ENFORCED) >= 5


@pytest.mark.parametrize("rule_id", ENFORCED)
def test_apiserver_agrees_with_the_compiler(policies, rule_id: str) -> None:
    checked = 0
    for name, data, doc in _fixture_docs(rule_id):
        obj = {**data, "metadata": {**data["metadata"], "namespace": NAMESPACE}}
        violated = _compiler_verdict(data, doc)
        proc = apply(policies, [obj], dry_run=True, check=False)
        if not violated:
            assert proc.returncode == 0, f"{name}: admitted by the compiler, denied by the " \
                                         f"apiserver:\n{proc.stderr}"
        else:
            assert proc.returncode != 0, f"{name}: the compiler finds {sorted(violated)} " \
                                         "violated, the apiserver admitted it"
            m = re.search(r"ValidatingAdmissionPolicy 'mentatlab-([\w-]+)'.*denied request: "
                          r"(.*)", proc.stderr)
            assert m, proc.stderr
            denied_by, message = m[1], m[2].strip()
            assert denied_by in violated, f"{name}: denied by {denied_by}, compiler: {violated}"
            assert message == violated[denied_by]
        checked += 1
    assert checked >= 2  # at least one pass and one fail document per rule


def test_a_compliant_rendered_deployment_is_admitted(policies) -> None:
    deployment = next(o for o in leaf_objects(Path(RENDERED / "staging" / "eu-west-1"))
                      if o["kind"] == "Deployment")
    assert apply(policies, [deployment], dry_run=True, check=False).returncode == 0
