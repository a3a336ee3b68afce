"""Enforced rules as ValidatingAdmissionPolicy + Binding: the same CEL, a valid object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cel_expr_python import cel
from cel_expr_python.ext import ext_optional, ext_strings

from compiler import resources
from compiler.check import check
from compiler.load import parse_yaml
from compiler.pipeline import compile_workspace
from compiler.policy.rules import Rule, load_rules
from compiler.render.vap import binding, policy
from tests.conftest import WORKSPACE

ENFORCED = [r for r in load_rules(None).rules if r.enforce]


def admit(vap: dict[str, Any], obj: dict[str, Any]) -> bool | None:
    """What the API server does with `obj`: None when no match condition holds, else allowed.

    As Kubernetes does it, with its environment's extensions: each expression compiled on its
    own, `object` dyn, each variable declared with its checked type for the ones after it.
    """
    spec = vap["spec"]
    declared: dict[str, cel.Type] = {"object": cel.Type.DYN}
    data: dict[str, Any] = {"object": obj}

    def run(src: str) -> Any:
        env = cel.NewEnv(variables=declared,
                         extensions=[ext_strings.ExtStrings(2), ext_optional.ExtOptional()])
        expr = env.compile(src)
        value = expr.eval(data=data)
        assert value.type() != cel.Type.ERROR, value.value()
        return expr.return_type(), value.plain_value()

    if not all(run(c["expression"])[1] for c in spec["matchConditions"]):
        return None
    for var in spec.get("variables", []):
        declared[f"variables.{var['name']}"], data[f"variables.{var['name']}"] = run(
            var["expression"])
    results = [run(v["expression"]) for v in spec["validations"]]
    assert all(t == cel.Type.BOOL for t, _ in results)
    return all(value for _, value in results)


def fixture_docs(rule: Rule, expect: str) -> list[dict[str, Any]]:
    path = resources.policies_dir() / "tests" / f"{rule.id}.{expect}.yaml"
    docs, diags = parse_yaml(path.name, path.read_bytes())
    assert diags == []
    return [d.data for d in docs if d.kind in rule.kinds]


def test_the_default_set_enforces_the_pod_security_rules() -> None:
    assert {"run-as-non-root", "no-privilege-escalation", "read-only-root-filesystem",
            "drop-all-capabilities"} <= {r.id for r in ENFORCED}


@pytest.mark.parametrize("rule", ENFORCED, ids=lambda r: r.id)
def test_the_vap_carries_the_rule_unchanged(rule: Rule) -> None:
    vap = policy(rule)
    (validation,) = vap["spec"]["validations"]
    assert validation["expression"] == rule.expression
    assert validation.get("message") == rule.message
    assert validation.get("messageExpression") == rule.message_expression
    assert [(v["name"], v["expression"]) for v in vap["spec"].get("variables", [])] == list(
        rule.variables)
    b = binding(rule, ["mentat-staging", "mentat-prod"])
    assert b["spec"]["policyName"] == vap["metadata"]["name"]
    assert b["spec"]["validationActions"] == ["Deny"]
    assert b["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "mentat-prod", "mentat-staging"]


@pytest.mark.parametrize("rule", ENFORCED, ids=lambda r: r.id)
def test_the_vap_decides_the_fixtures_as_the_rule_does(rule: Rule) -> None:
    vap = policy(rule)
    passing, failing = fixture_docs(rule, "pass"), fixture_docs(rule, "fail")
    assert passing and failing
    assert [admit(vap, d) for d in passing] == [True] * len(passing)
    assert [admit(vap, d) for d in failing] == [False] * len(failing)


def test_a_waiver_with_a_reason_exempts_at_admission_too() -> None:
    rule = next(r for r in ENFORCED if r.id == "run-as-non-root")
    vap = policy(rule)
    bad = fixture_docs(rule, "fail")[0]
    key = "mentatlab.io/waive-run-as-non-root"
    waived = {**bad, "metadata": {**bad["metadata"], "annotations": {key: "legacy image"}}}
    empty = {**bad, "metadata": {**bad["metadata"], "annotations": {key: ""}}}
    assert admit(vap, waived) is None and admit(vap, empty) is False


def test_rendered_objects_pass_the_kubernetes_schema() -> None:
    from compiler.model import K8sObject

    objs = [K8sObject("policies", o, ("policies/x.yaml",)) for r in ENFORCED
            for o in (policy(r), binding(r, ["ns"]))]
    assert check(objs, "1.31") == []


def test_the_example_workspace_renders_one_pair_per_enforced_rule() -> None:
    root = Path(__file__).resolve().parents[3]
    result = compile_workspace(root)
    assert result.ok, result.diagnostics
    names = sorted(p for p in result.files if p.startswith("policies/"))
    expected = sorted(
        [f"policies/validatingadmissionpolicy-mentatlab-{r.id}.yaml" for r in ENFORCED]
        + [f"policies/validatingadmissionpolicybinding-mentatlab-{r.id}.yaml" for r in ENFORCED]
        + ["policies/kustomization.yaml"])
    assert names == expected


def test_warning_rules_warn_and_old_clusters_get_none(make_ws: Any) -> None:
    rule = ("apiVersion: mentatlab.io/v1\nkind: PolicyRule\nmetadata: {name: soft}\nspec:\n"
            "  description: d\n  severity: warning\n  enforce: true\n"
            "  match: {kinds: [Deployment], labels: {tier: gold}}\n"
            "  expression: \"object.spec.replicas >= 1\"\n  message: m\n")
    ws = WORKSPACE + "  policies: [p/]\n"
    result = compile_workspace(make_ws({"p/soft.yaml": rule}, workspace=ws))
    assert result.ok, result.diagnostics
    b = parse_yaml("b", result.files[
        "policies/validatingadmissionpolicybinding-mentatlab-soft.yaml"])[0][0].data
    assert b["spec"]["validationActions"] == ["Warn", "Audit"]
    assert b["spec"]["matchResources"]["objectSelector"] == {"matchLabels": {"tier": "gold"}}
    old = compile_workspace(make_ws({"p/soft.yaml": rule},
                                    workspace=ws + '  kubernetesVersion: "1.29"\n'))
    assert not any(p.startswith("policies/") for p in old.files)
    assert [(d.code, str(d.severity)) for d in old.diagnostics if d.code == "M500"] == [
        ("M500", "warning")]
