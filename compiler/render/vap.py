"""Render `enforce: true` policy rules as ValidatingAdmissionPolicy + Binding (dir "policies").

The cluster then rejects at admission what CI rejects at compile time, from the same rule: the
validation's expression, message and variables are the rule's own text, unchanged. A waiver
annotation (`mentatlab.io/waive-<rule-id>` with a reason) exempts an object through a match
condition, as it does in the compiler. Only rules that read nothing but `object` can be
enforced (an admission request has no workspace spec and no sibling objects); rules/load
refuses `enforce: true` on others. The bindings are limited to the workspace's namespaces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic, Severity
from compiler.model import K8sObject, Rendered, Workspace
from compiler.policy.rules import KUBE_RESOURCES, Rule, RuleSet, load_rules
from compiler.policy.stage import WAIVER_PREFIX
from compiler.render import RenderInput, doc_part, unit

__all__ = ["MIN_KUBERNETES", "binding", "policy", "render"]

API_VERSION = "admissionregistration.k8s.io/v1"
MIN_KUBERNETES = (1, 30)  # ValidatingAdmissionPolicy is GA (v1) from 1.30
_LABELS = {"app.kubernetes.io/managed-by": "mentatctl", "app.kubernetes.io/part-of": "mentatlab"}


def _name(rule: Rule) -> str:
    return f"mentatlab-{rule.id}"


def _one_line(text: str) -> str:
    return " ".join(text.split())  # Kubernetes refuses messages with line breaks


def policy(rule: Rule) -> dict[str, Any]:
    groups: dict[tuple[str, str], set[str]] = {}
    for kind in rule.kinds:
        group, version, resource = KUBE_RESOURCES[kind]
        groups.setdefault((group, version), set()).add(resource)
    key = WAIVER_PREFIX + rule.id
    validation: dict[str, Any] = {"expression": rule.expression, "reason": "Invalid"}
    if rule.message_expression is not None:
        validation["messageExpression"] = rule.message_expression
    if rule.message is not None:
        validation["message"] = _one_line(rule.message)
    spec: dict[str, Any] = {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {"apiGroups": [g], "apiVersions": [v], "operations": ["CREATE", "UPDATE"],
                 "resources": sorted(res)}
                for (g, v), res in sorted(groups.items())
            ],
        },
        "matchConditions": [{
            "name": "not-waived",
            "expression": f"!has(object.metadata.annotations) || "
                          f"!('{key}' in object.metadata.annotations) || "
                          f"object.metadata.annotations['{key}'] == ''",
        }],
    }
    if rule.variables:
        spec["variables"] = [{"name": n, "expression": e} for n, e in rule.variables]
    spec["validations"] = [validation]
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {
            "name": _name(rule),
            "labels": {**_LABELS, "mentatlab.io/policy": rule.id},
            "annotations": {"mentatlab.io/description": _one_line(rule.description),
                            "mentatlab.io/source": f"{rule.file}:{rule.line}"},
        },
        "spec": spec,
    }


def binding(rule: Rule, namespaces: list[str]) -> dict[str, Any]:
    match: dict[str, Any] = {"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(namespaces)},
    ]}}
    if rule.labels:
        match["objectSelector"] = {"matchLabels": dict(rule.labels)}
    actions = ["Deny"] if rule.severity == "error" else ["Warn", "Audit"]
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": _name(rule), "labels": {**_LABELS, "mentatlab.io/policy": rule.id}},
        "spec": {"policyName": _name(rule), "validationActions": actions,
                 "matchResources": match},
    }


def _version(text: str) -> tuple[int, int]:
    try:
        major, minor = (int(x) for x in text.split(".")[:2])
    except ValueError:
        return MIN_KUBERNETES
    return major, minor


def render(inp: RenderInput) -> Rendered:
    ws = inp.ws
    spec = ws.spec
    # the policy stage's (its diagnostics are its own), or loaded for a render on its own
    rules = inp.rules if inp.rules is not None else load_rules(
        Path(ws.root), spec.policies, spec.doc.file, spec.doc, memo=inp.cache)
    # all they read: mentat.yaml and the rule files (the default set is the compiler's own)
    parts = ("vap", doc_part(ws, spec.doc), *(f"{f}@{d}" for f, d in sorted(rules.files.items())))
    return unit(inp, parts, (spec.doc.file, *sorted(rules.files)), lambda: _policies(ws, rules))


def _policies(ws: Workspace, rules: RuleSet) -> Rendered:
    spec = ws.spec
    enforced = [r for r in rules.rules if r.enforce]
    out = Rendered()
    if not enforced:
        return out
    wanted = spec.kubernetes_version
    if _version(wanted) < MIN_KUBERNETES:
        p = spec.doc.pos(("spec", "kubernetesVersion"))
        out.diagnostics.append(Diagnostic(
            "M500", f"{len(enforced)} enforced policy rule(s) not rendered: "
            f"ValidatingAdmissionPolicy v1 needs Kubernetes 1.30, the workspace targets {wanted}",
            spec.doc.file, p.line, p.col, Severity.WARNING))
        return out
    namespaces = sorted({e.namespace for e in spec.environments})
    for r in enforced:
        origin = (r.file, r.line, r.col)
        out.objects.append(K8sObject("policies", policy(r), (r.file,), origin))
        out.objects.append(K8sObject("policies", binding(r, namespaces), (r.file,), origin))
    return out
