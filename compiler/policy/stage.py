"""Stage 4, policy: rules over the linked source documents, then over the rendered objects.

`check_sources` runs after link on the Workspace, Agent and Flow documents; `check_rendered`
after render (before check) on the Kubernetes objects, each rule seeing its object's siblings
(the other objects of the same output directory, i.e. environment and region). Both return a
`PolicyResult`: diagnostics, one `Finding` per (rule, object) outcome that is not a plain
pass (waivers included) and a tally of the plain passes, from which `report` builds
policy-report.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from compiler.diagnostics import Diagnostic, Severity, redact
from compiler.model import K8sObject, Workspace
from compiler.policy.evaluate import DEFAULT_LIMITS, Limits, Memo, Sibling, Subject, evaluate
from compiler.policy.rules import Rule, RuleSet

__all__ = [
    "WAIVER_PREFIX",
    "Finding",
    "PolicyResult",
    "check_rendered",
    "check_sources",
    "report",
    "run",
    "source_subjects",
    "waiver_lines",
    "waivers_json",
    "waivers_of",
]

WAIVER_PREFIX = "mentatlab.io/waive-"


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: str
    object: str
    file: str
    line: int
    status: str  # pass | fail | error | limit | skipped
    message: str = ""
    waiver: str | None = None  # the reason, when a waiver annotation covers this object


@dataclass(slots=True)
class PolicyResult:
    findings: list[Finding] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=dict)  # rule -> passes not in `findings`

    @property
    def waivers(self) -> list[Finding]:
        return [f for f in self.findings if f.waiver is not None]

    def extend(self, other: PolicyResult) -> None:
        self.findings += other.findings
        self.diagnostics += other.diagnostics
        for rule, n in other.passed.items():
            self.passed[rule] = self.passed.get(rule, 0) + n


def waivers_of(data: Mapping[str, Any]) -> dict[str, str]:
    """rule id -> reason, from `mentatlab.io/waive-<rule-id>` annotations."""
    meta = data.get("metadata")
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(ann, dict):
        return {}
    return {k[len(WAIVER_PREFIX):]: str(v) for k, v in ann.items()
            if isinstance(k, str) and k.startswith(WAIVER_PREFIX)}


def _waiver_diagnostics(subject: Subject, rules: RuleSet) -> list[Diagnostic]:
    out = []
    for rid, reason in sorted(waivers_of(subject.data).items()):
        key = WAIVER_PREFIX + rid
        p = subject.doc.pos(("metadata", "annotations", key), key=True) if subject.doc else None
        line, col = (p.line, p.col) if p else (subject.line, subject.col)
        if not reason.strip():
            out.append(Diagnostic("M403", f"waiver '{key}' has no reason", subject.file, line,
                                  col, hint="say why the rule does not apply: "
                                  f"{key}: \"<reason>\""))
        elif rules.get(rid) is None:
            out.append(Diagnostic("M404", f"waiver '{key}' names no known policy rule",
                                  subject.file, line, col, Severity.WARNING,
                                  hint="mentatctl policy list shows the rule ids"))
    return out


def run(
    rules: RuleSet,
    subjects: Sequence[Subject],
    workspace: Mapping[str, Any],
    siblings: Mapping[str, Sequence[Sibling]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    memo: Memo | None = None,
    count_passes: bool = False,
) -> PolicyResult:
    """Evaluate `rules` on `subjects`; waived violations become findings, not diagnostics.
    With `count_passes`, passes on objects that waive nothing are only counted (`passed`):
    a compile reports tallies of them, not each one."""
    result = PolicyResult()
    passes = result.passed if count_passes else None
    by_id = {r.id: r for r in rules.rules}
    skipped: dict[str, int] = {}
    for o in evaluate(rules.rules, subjects, workspace, siblings, limits, memo, passes):
        rule, s = by_id[o.rule], subjects[o.subject]
        reason = waivers_of(s.data).get(rule.id) if s.waivable else None
        waiver = reason if reason is not None and reason.strip() else None
        if passes is not None and o.status == "pass" and waiver is None:
            passes[rule.id] = passes.get(rule.id, 0) + 1
            continue
        # a message may quote the document (messageExpression, a runtime error): its env
        # values never reach a diagnostic or policy-report.json
        message = redact(o.message, _env_values(s.data)) if o.message else o.message
        result.findings.append(Finding(rule.id, rule.severity, s.name, s.file,
                                       _position(rule, s)[0], o.status, message, waiver))
        if o.status == "skipped":
            skipped[rule.id] = skipped.get(rule.id, 0) + 1
            continue
        if o.status == "pass":
            continue
        diag = _diagnostic(rule, s, o.status, message)
        if diag and (waiver is None or o.status == "limit"):
            result.diagnostics.append(diag)
    for rid, n in sorted(skipped.items()):
        r = by_id[rid]
        result.diagnostics.append(Diagnostic(
            "M402", f"policy rule '{rid}' was not evaluated on {n} more document(s) after it "
            "exceeded the evaluation limit", r.file, r.line, r.col,
            Severity(r.severity)))
    return result


def _position(rule: Rule, s: Subject) -> tuple[int, int]:
    """Where a finding points: the field the rule names (its fieldPath) in a source
    document, or the nearest enclosing field that exists; else the document."""
    if rule.field_path and s.doc is not None:
        p = s.doc.pos(rule.field_path)
        return p.line, p.col
    return s.line, s.col


def _field_note(rule: Rule, s: Subject) -> str:
    """For a rendered object (its location is the flow node it came from): the field, when
    the object has it (a CronJob has no spec.template)."""
    if not rule.field_path or s.doc is not None:
        return ""
    node: Any = s.data
    for seg in rule.field_path:
        ok = (isinstance(node, dict) and seg in node) or (
            isinstance(node, list) and isinstance(seg, int) and seg < len(node))
        if not ok:
            return ""
        node = node[seg]
    return f"; field {rule.field_path_text} of {s.name}"


def _env_values(data: Any) -> list[str]:
    """The values of every `env: [{name, value}]` list in a document (an Agent's, or the
    containers of a rendered object), as text."""
    found: list[str] = []
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "env" and isinstance(v, list):
                    found += [str(e["value"]) for e in v if isinstance(e, dict) and "value" in e]
                elif isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(node, list):
            stack += [v for v in node if isinstance(v, dict | list)]
    return found


def _diagnostic(rule: Rule, s: Subject, status: str, message: str) -> Diagnostic | None:
    where = f"rule {rule.file}:{rule.line}"
    sev = Severity(rule.severity)
    line, col = _position(rule, s)
    if status == "fail":
        return Diagnostic("M400", f"policy {rule.id}: {message}", s.file, line, col, sev,
                          hint=f"{rule.description} ({where}{_field_note(rule, s)}; waive for "
                          f"this object with annotation {WAIVER_PREFIX}{rule.id}: \"<reason>\")")
    if status in ("error", "limit"):
        return Diagnostic("M402", f"policy {rule.id} failed on {s.name}: {message}", s.file,
                          line, col, sev, hint=where)
    return None


def source_subjects(ws: Workspace) -> list[Subject]:
    """The workspace's own documents: the Workspace, then agents and flows, sorted."""
    out = []
    docs = [("Workspace", ws.spec.doc, ws.spec.name)]
    docs += [("Agent", a.doc, a.key) for a in ws.agents]
    docs += [("Flow", f.flow.doc, f.flow.key) for f in ws.flows]
    digests = ws.source_digests
    for kind, doc, name in docs:
        p = doc.pos(())
        # each file its own group: source rules have no siblings, and the policy memo then
        # reuses outcomes per unchanged file, known by its digest (the parse is part of the
        # compiler, whose fingerprint keys the memo)
        file_digest = digests.get(doc.file)
        out.append(Subject(kind, doc.data, doc.file, p.line, p.col, f"{kind}/{name}",
                           doc.file, doc=doc,
                           digest=f"{file_digest}#{doc.index}" if file_digest else ""))
    return out


def check_sources(ws: Workspace, rules: RuleSet, limits: Limits = DEFAULT_LIMITS,
                  memo: Memo | None = None) -> PolicyResult:
    """Source-phase rules on the linked documents, plus waiver annotation checks."""
    subjects = source_subjects(ws)
    src_rules = RuleSet(tuple(r for r in rules.rules if r.phase == "source"), ())
    result = run(src_rules, subjects, ws.spec.spec, None, limits, memo, count_passes=True)
    for s in subjects:
        result.diagnostics += _waiver_diagnostics(s, rules)
    return result


_ORDER = attrgetter("dir", "kind", "name")  # of rendered objects (in C: 10k of them)


def check_rendered(ws: Workspace, objects: Iterable[K8sObject], rules: RuleSet,
                   limits: Limits = DEFAULT_LIMITS, memo: Memo | None = None) -> PolicyResult:
    """Rendered-phase rules on the Kubernetes objects.

    `siblings` are the objects rendered for the same flow (`K8sObject.group`) in the same
    environment × region (for objects of no flow — namespaces, the collector — the other
    such objects there). Objects from the incremental cache stay packed unless a rule
    really evaluates them (a memoised group needs only their digests).
    Not the whole directory: the CEL binding converts `siblings` anew for every object that
    reads it, so directory-wide siblings made a 10k-object compile quadratic (minutes).
    """
    k8s_rules = RuleSet(tuple(r for r in rules.rules if r.phase == "rendered"), ())
    groups: dict[str, list[K8sObject]] = {}
    for o in sorted(objects, key=_ORDER):
        groups.setdefault(f"{o.dir}#{o.group}", []).append(o)
    passed: dict[str, int] = {}
    siblings: dict[str, list[Callable[[], dict[str, Any]]]] = {}
    subjects = []
    for group, members in groups.items():
        counts = memo.passes(k8s_rules.rules, ws.spec.spec, members) if memo else None
        if counts is not None:  # an unchanged group that passed every rule: just count
            for rule, n in counts.items():
                passed[rule] = passed.get(rule, 0) + n
            continue
        siblings[group] = [_loader(o) for o in members]
        for o, load in zip(members, siblings[group], strict=True):
            known = memo.known(o) if memo is not None else None
            file, line, col = o.origin
            subjects.append(Subject(
                o.kind, load, file, line, col, f"{o.dir}/{o.kind}/{o.name}", group,
                digest=known[0] if known else "", waivable=known is None or known[1]))
    result = run(k8s_rules, subjects, ws.spec.spec, siblings, limits, memo, count_passes=True)
    result.extend(PolicyResult(passed=passed))
    result.diagnostics = _once_per_source(result.diagnostics)
    return result


def _once_per_source(diags: list[Diagnostic]) -> list[Diagnostic]:
    """One node rendered into several environments × regions breaks a rule once in its
    source: one diagnostic there, its hint counting the other objects (policy-report.json
    still lists each)."""
    first: dict[tuple[str, str, int, int, str], int] = {}
    more: dict[int, int] = {}
    out: list[Diagnostic] = []
    for d in diags:
        key = (d.code, d.file, d.line, d.col, d.message)
        if key in first:
            more[first[key]] = more.get(first[key], 0) + 1
            continue
        first[key] = len(out)
        out.append(d)
    for i, n in more.items():
        d = out[i]
        out[i] = Diagnostic(d.code, d.message, d.file, d.line, d.col, d.severity,
                            f"{d.hint} (and {n} more rendered object(s) from this source)")
    return out


def report(rules: RuleSet, result: PolicyResult) -> bytes:
    """policy-report.json: the rules that ran, their tallies, waivers and violations."""
    tallies: dict[str, dict[str, int]] = {
        r.id: {"evaluated": 0, "passed": 0, "failed": 0, "errors": 0, "waived": 0}
        for r in rules.rules}
    for rule, n in result.passed.items():
        tallies[rule]["evaluated"] += n
        tallies[rule]["passed"] += n
    for f in result.findings:
        t = tallies[f.rule]
        t["evaluated"] += f.status != "skipped"
        t["passed"] += f.status == "pass"
        t["failed"] += f.status == "fail" and f.waiver is None
        t["errors"] += f.status in ("error", "limit") and f.waiver is None
        t["waived"] += f.waiver is not None and f.status != "pass"
    doc = {
        "apiVersion": "mentatlab.io/v1",
        "kind": "PolicyReport",
        "rules": [
            {"id": r.id, "severity": r.severity, "phase": r.phase, "kinds": list(r.kinds),
             "enforce": r.enforce, "file": r.file, **tallies[r.id]}
            for r in rules.rules
        ],
        "waivers": sorted(
            ({"rule": f.rule, "object": f.object, "file": f.file, "line": f.line,
              "reason": f.waiver, "violated": f.status != "pass"} for f in result.waivers),
            key=lambda d: (str(d["rule"]), str(d["object"]))),
        "violations": sorted(
            ({"rule": f.rule, "severity": f.severity, "object": f.object, "file": f.file,
              "line": f.line, "message": f.message}
             for f in result.findings if f.status == "fail" and f.waiver is None),
            key=lambda d: (str(d["rule"]), str(d["object"]))),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def waivers_json(waivers: Sequence[Finding]) -> list[dict[str, Any]]:
    return [{"rule": w.rule, "object": w.object, "file": w.file, "line": w.line,
             "reason": w.waiver, "violated": w.status != "pass"}
            for w in sorted(waivers, key=lambda w: (w.rule, w.object))]


def waiver_lines(waivers: Sequence[Finding]) -> list[str]:
    """One line per waiver that suppressed something, for the compile report."""
    return [f"waived {w['rule']} on {w['object']} ({w['file']}:{w['line']}): {w['reason']}"
            for w in waivers_json(waivers) if w["violated"]]


def _loader(o: K8sObject) -> Callable[[], dict[str, Any]]:
    return lambda: o.obj
