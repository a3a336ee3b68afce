"""Evaluate compiled rules over documents, bounded in time and memory.

cel-expr-python fixes cel-cpp's comprehension iteration limit (ITERATION_BUDGET per
evaluation: a deterministic error for that document) and has no cost limit or timeout to set.
Within the budget an evaluation can still take seconds and gigabytes (`map` and `filter` are
quadratic in the list's length) inside one C++ call that no thread can interrupt. Evaluation
therefore runs in a forked child process (which inherits the compiled programs: nothing is
compiled twice) that streams one result per (rule, document) back over a pipe. When a result
does not arrive within `Limits.seconds`, or the child dies or runs out of memory (its address
space is capped by `Limits.memory`), the parent kills it, reports that evaluation, stops
evaluating that rule and forks a fresh child for the rest.
Results are a pure function of the inputs, not of timing, except for a rule that hits the limit.

Variables are evaluated as a ValidatingAdmissionPolicy evaluates them: each its own program,
in order, its value bound as `variables.NAME` for the ones after it and the expression. A
variable that fails is left unbound, so it is an error only where it is read (Kubernetes
evaluates them lazily); the error then names the variable and its own failure. Each
variable's own activation converts the document again, so a rule with variables first runs
as one program with its variables bound in place (`Rule.bound_program`, as Kubernetes runs
it): a clean `true` there is its pass, and anything else is evaluated variable by variable.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

from cel_expr_python import cel

from compiler.background import Background
from compiler.model.raw import RawDoc
from compiler.policy.rules import Rule, bound, environment

__all__ = ["DEFAULT_LIMITS", "ITERATION_BUDGET", "Limits", "Memo", "Outcome", "Sibling", "Subject",
           "evaluate"]

# A rendered object as CEL's `siblings` holds it, or a function returning it (unpacked only
# when a rule reads `siblings`)
Sibling = Mapping[str, Any] | Callable[[], Mapping[str, Any]]

# Comprehension iterations cel-expr-python 0.1.3 allows one evaluation (not configurable
# through the binding; tests/unit/policy/test_evaluate.py pins it).
ITERATION_BUDGET = 10_000


@dataclass(frozen=True, slots=True)
class Limits:
    seconds: float = 5.0  # per evaluation of one rule on one document
    memory: int = 1 << 30  # bytes the evaluating child may allocate beyond its parent's size


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Subject:
    """One document a rule may apply to."""

    kind: str
    # the CEL `object`, or a function returning it: objects from the incremental cache are
    # unpacked only when a rule really evaluates them
    source: dict[str, Any] | Callable[[], dict[str, Any]]
    file: str  # where diagnostics point
    line: int
    col: int
    name: str  # how reports name it: "Agent/summarizer@1.2.0", "prod/eu-west-1/Deployment/x"
    group: str = ""  # sibling group (output dir and flow of rendered objects; source file)
    doc: RawDoc | None = field(default=None, compare=False, repr=False)  # source documents
    digest: str = ""  # names its content, when known without unpacking it (memo keys)
    waivable: bool = True  # False when the object certainly carries no waiver annotation

    @property
    def data(self) -> dict[str, Any]:
        return self.source() if callable(self.source) else self.source

    @property
    def labels(self) -> Any:
        meta = self.data.get("metadata")
        return meta.get("labels") if isinstance(meta, dict) else None


@dataclass(frozen=True, slots=True)
class Outcome:
    rule: str
    subject: int  # index into the subjects given to `evaluate`
    status: str  # "pass" | "fail" | "error" | "limit" | "skipped" (after a "limit")
    message: str = ""  # the rule's message on "fail", the problem on "error" / "limit"


_READS_VARIABLES = re.compile(r"\bvariables\b")  # a variable's expression reads earlier ones
_STATUS = re.compile(r"^[A-Z_]+: | \[[A-Z_]+\]$")  # absl status codes around the message
_UNBOUND = re.compile(r'No value with name "variables\.(\w+)" found')


# cel-expr-python names a value it cannot convert with the path to it, each step shown as
# the whole container it indexes (the document, env values included): only the value is kept
_UNCONVERTIBLE = re.compile(r"^(\w+) value '([^']{0,40})[^']*' out of range for ")
_MAX_DESCRIPTION = 300  # an error's text is the runtime's: no document dump gets through


def _describe(error: str) -> str:
    lines = error.strip().splitlines()
    text = _STATUS.sub("", lines[0]) if lines else ""
    if text.startswith("Iteration budget exceeded"):
        return (f"iteration budget exceeded: cel-cpp stops an evaluation after "
                f"{ITERATION_BUDGET:,} comprehension iterations")
    m = _UNCONVERTIBLE.match(text)
    if m:
        return (f"{m[1].lower()} value {m[2]} is out of range for CEL (64-bit integers): "
                "the document holds a number no Kubernetes object can carry")
    if len(text) > _MAX_DESCRIPTION or "{'" in text:
        text = text.split("{'", 1)[0][:_MAX_DESCRIPTION].rstrip() + " …"
    return text or "unknown error"


@dataclass(slots=True)
class _Scope:
    activation: Any  # cel.Activation
    values: dict[str, Any]  # "variables.NAME" -> value, as plain Python data
    errors: dict[str, str]  # NAME -> why it has no value


class _Bindings:
    """The activations of one document, shared by every rule evaluated on it.

    cel-expr-python converts a Python value to CEL when an expression first reads it and keeps
    the result in the activation, so the document is converted once per activation. Rules
    whose variables have the same names and expressions (the default set's `pod` and
    `containers`) share their values and activation: variables are pure.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.scopes: dict[tuple[tuple[str, str], ...], _Scope] = {}

    def scope(self, rule: Rule) -> _Scope:
        key: tuple[tuple[str, str], ...] = ()
        current = self.first(rule.env)
        for (name, src), (_, program) in zip(rule.variables, rule.variable_programs,
                                             strict=True):
            key = (*key, (name, src))
            cached = self.scopes.get(key)
            if cached is None:
                cached = self.scopes[key] = self._extend(rule, current, name, program,
                                                         _READS_VARIABLES.search(src) is None)
            current = cached
        return current

    def first(self, env: Any) -> _Scope:
        """The activation of the document alone: every variable-free rule's, every bound program's."""
        found = self.scopes.get(())
        if found is None:
            found = self.scopes[()] = _Scope(env.Activation(self.data), {}, {})
        return found

    def bound_passes(self, rule: Rule) -> bool:
        """Whether the rule's bound program (`Rule.bound_program`) is a clean true here. It
        runs in the first activation, whose `object` is converted once: each variable's own
        activation would convert the document and the values handed to it again."""
        if rule.bound_program is None:
            return False
        try:
            result = rule.bound_program.eval(self.first(rule.env).activation)
            return result.type() == cel.Type.BOOL and result.value() is True
        except Exception:  # the iteration budget: evaluated variable by variable
            return False

    def _extend(self, rule: Rule, scope: _Scope, name: str, program: Any,
                independent: bool) -> _Scope:
        values, errors = dict(scope.values), dict(scope.errors)
        # A variable that reads no other one gets the same value in the first activation,
        # whose `object` is already converted: each new activation converts it again.
        reads = self.scopes[()] if independent else scope
        try:
            value = program.eval(reads.activation)
        except RuntimeError as e:  # the iteration budget
            errors[name] = _describe(str(e))
            value = None
        try:
            if value is None:
                pass
            elif value.type() == cel.Type.ERROR:
                errors[name] = _failure(value, scope)
            else:
                values[f"variables.{name}"] = value.plain_value()
        except (TypeError, RuntimeError) as e:  # no Python form (an optional inside a dyn)
            errors[name] = f"its value cannot be handed on: {_describe(str(e))}"
        return _Scope(rule.env.Activation({**self.data, **values}), values, errors)


def _failure(value: Any, scope: _Scope) -> str:
    text = str(value.value())
    m = _UNBOUND.search(text)
    if m and m.group(1) in scope.errors:
        return f"variables.{m.group(1)}: {scope.errors[m.group(1)]}"
    return _describe(text)


def _run_one(rule: Rule, scope: _Scope) -> tuple[str, str]:
    result = rule.program.eval(scope.activation)
    if result.type() == cel.Type.ERROR:
        return "error", _failure(result, scope)
    if result.type() != cel.Type.BOOL:  # checked as bool at compile time
        return "error", f"expression returned {str(result.type()).lower()}, not bool"
    if result.value():
        return "pass", ""
    if rule.message_program is None:
        return "fail", rule.message or ""
    msg = rule.message_program.eval(scope.activation)
    if msg.type() == cel.Type.ERROR:
        return "error", f"messageExpression: {_failure(msg, scope)}"
    return "fail", str(msg.value())


def _child(conn: Connection, jobs: list[tuple[Rule, Subject]], workspace: Mapping[str, Any],
           siblings: Mapping[str, Sequence[Sibling]], memory: int,
           batch: int) -> None:
    """Evaluate `jobs` in order, sending results in lists of up to `batch`, and at least every
    FLUSH_SECONDS, so the parent hears of progress even when one evaluation later hangs."""
    # An allocation failure may abort the C++ runtime with a message: the parent reports it.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (size + memory, size + memory))
    except (OSError, ValueError):
        pass  # no /proc or a lower hard limit: the time limit still applies
    # one job at a time (after a hang) names the evaluation that hangs: no group batches
    groups = _Groups(jobs, workspace, siblings) if batch > 1 else None
    bindings: _Bindings | None = None
    current: Subject | None = None
    out: list[tuple[str, str]] = []
    flushed = time.monotonic()
    for rule, subject in jobs:
        if out and (len(out) >= batch or time.monotonic() - flushed >= FLUSH_SECONDS):
            conn.send(out)
            out, flushed = [], time.monotonic()
        if subject is not current:  # jobs come grouped by subject
            current = subject
            bindings = _new_bindings(subject, workspace, siblings)
        assert bindings is not None
        try:
            # the bound program one job at a time too: a pass does not depend on a hang
            if (groups is not None and groups.passes(rule, subject)) or bindings.bound_passes(rule):
                out.append(("pass", ""))
                continue
            out.append(_run_one(rule, bindings.scope(rule)))
        except MemoryError:
            out.append(("limit", f"evaluation exceeded the memory limit ({memory >> 20} MiB)"))
            break
        except Exception as e:  # the binding raises for what it cannot convert or run
            out.append(("error", _describe(str(e)) or type(e).__name__))
    conn.send(out)
    conn.close()


def _new_bindings(subject: Subject, workspace: Mapping[str, Any],
                  siblings: Mapping[str, Sequence[Sibling]]) -> _Bindings:
    group = siblings.get(subject.group, ())
    return _Bindings({"object": subject.data, "workspace": workspace,
                      "siblings": [x() if callable(x) else x for x in group]})


_ITEMS = "mentat_group_items__"  # names no rule uses: the batch's own variables
_ITEM = "mentat_group_item__"
# (phase, expression, variables) -> (env, program)
_GROUP_PROGRAMS: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[Any, Any] | None] = {}


def _group_program(rule: Rule) -> tuple[Any, Any] | None:
    """The rule's expression, its variables bound in place (`rules.bound`), mapped over the
    positions in `siblings` of objects that share them, or None. The binding converts
    `siblings` anew in every activation (a converted value cannot be handed to another), so
    a rule reading it on k objects of a flow converted the group k times; evaluated once per
    group, it is converted once, each object with it."""
    key = (rule.phase, rule.expression, rule.variables)  # asked once per (rule, object)
    if key not in _GROUP_PROGRAMS:
        _GROUP_PROGRAMS[key] = _compile_group_program(rule)
    return _GROUP_PROGRAMS[key]


def _compile_group_program(rule: Rule) -> tuple[Any, Any] | None:
    if rule.phase != "rendered" or not re.search(r"\bsiblings\b", rule.expression):
        return None
    inner = bound(rule.expression, rule.variables)
    if inner is None:
        return None
    env = environment({"workspace": cel.Type.DYN, "siblings": cel.Type.List(cel.Type.DYN),
                       _ITEMS: cel.Type.DYN}, bindings=True)
    try:
        return env, env.compile(
            f"{_ITEMS}.map({_ITEM}, cel.bind(object, siblings[{_ITEM}], {inner}))")
    except RuntimeError:  # evaluated one object at a time, as before
        return None


class _Groups:
    """Rules that read `siblings`, evaluated once per sibling group (`_group_program`) before
    each (rule, object) is evaluated on its own.

    Only a clean `true` for an object is taken as its pass: it is the same expression on the
    same `object`, `siblings`, `workspace` and variable values, and a batch stays within the
    iteration budget only if each of its parts would. Anything else (an error anywhere in the
    batch, a `false`, a variable that failed) is evaluated per object as before, so statuses
    and messages are unchanged."""

    def __init__(self, jobs: list[tuple[Rule, Subject]], workspace: Mapping[str, Any],
                 siblings: Mapping[str, Sequence[Sibling]]) -> None:
        self.workspace, self.siblings = workspace, siblings
        self.members: dict[tuple[str, str], list[Subject]] = {}
        for rule, subject in jobs:
            if _group_program(rule) is not None:
                self.members.setdefault((rule.id, subject.group), []).append(subject)
        self.passed: set[tuple[str, int]] = set()

    def passes(self, rule: Rule, subject: Subject) -> bool:
        """Whether the group's run found the rule a clean true on `subject`."""
        if _group_program(rule) is None:
            return False
        members = self.members.pop((rule.id, subject.group), None)
        if members is not None and len(members) > 1:
            self._evaluate(rule, members)
        return (rule.id, id(subject)) in self.passed

    def _evaluate(self, rule: Rule, members: list[Subject]) -> None:
        compiled = _group_program(rule)
        assert compiled is not None
        env, program = compiled
        group = self.siblings.get(members[0].group, ())
        at = {id(x): i for i, x in enumerate(group)}
        where = [at.get(id(s.source)) for s in members]
        if None in where:  # not among its siblings: each object is evaluated on its own
            return
        try:
            result = program.eval(env.Activation({
                "workspace": self.workspace, _ITEMS: where,
                "siblings": [x() if callable(x) else x for x in group]}))
            if result.type() == cel.Type.ERROR:
                return
            values = result.value()
        except Exception:  # each object is then evaluated on its own
            return
        for s, v in zip(members, values, strict=True):
            if v.value() is True:
                self.passed.add((rule.id, id(s)))


class Memo(Protocol):
    """Earlier outcomes by sibling group (compiler/cache/policy.py): the outcomes of a group depend
    only on the rules, the workspace spec and the group's objects, which `key` digests."""

    def known(self, o: Any) -> tuple[str, bool] | None: ...

    def passes(self, rules: Sequence[Rule], workspace: Mapping[str, Any],
               objects: list[Any]) -> dict[str, int] | None: ...

    def key(self, rules: Sequence[Rule], workspace: Mapping[str, Any],
            group: Sequence[Subject]) -> str | None: ...

    def get(self, key: str) -> list[tuple[str, int, str, str]] | None: ...

    def put(self, key: str, outcomes: list[tuple[str, int, str, str]]) -> None: ...


def evaluate(
    rules: Sequence[Rule],
    subjects: Sequence[Subject],
    workspace: Mapping[str, Any],
    siblings: Mapping[str, Sequence[Sibling]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    memo: Memo | None = None,
    passes: dict[str, int] | None = None,
) -> list[Outcome]:
    """Every rule on every subject it matches, in (subject, rule) order.

    Large runs are split, at a subject boundary, between one evaluating child per core; each
    shard keeps its own limits (a rule stopped for exceeding them in one shard is skipped for
    the rest of that shard). With a `memo`, groups whose objects did not change reuse their
    outcomes; only outcomes that do not depend on timing (no limit hit) are remembered.
    With `passes`, remembered passes on subjects that carry no waiver are counted there by
    rule instead of returned (at 10k objects, 20k outcome objects nobody reads).
    """
    siblings = siblings or {}
    remembered: list[Outcome] = []
    fresh: dict[str, tuple[str, list[int]]] = {}  # group -> (memo key, subject indexes)
    skip: set[int] = set()
    if memo is not None:
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(subjects):
            groups.setdefault(s.group, []).append(i)
        for group, members in groups.items():
            key = memo.key(rules, workspace, [subjects[i] for i in members])
            hit = memo.get(key) if key else None
            if hit is None:
                if key:
                    fresh[group] = (key, members)
                continue
            skip.update(members)
            for rid, local, status, message in hit:
                i = members[local]
                if passes is not None and status == "pass" and not subjects[i].waivable:
                    passes[rid] = passes.get(rid, 0) + 1
                else:
                    remembered.append(Outcome(rid, i, status, message))
    pending = [(r, i) for i, s in enumerate(subjects) if i not in skip for r in rules
               if r.matches(s.kind, s.labels)]
    shards = _shards(pending, min(os.cpu_count() or 1, MAX_CHILDREN))
    args = (subjects, workspace, siblings, limits)
    if len(shards) == 1:
        outcomes = _evaluate_shard(shards[0], *args)
    else:  # the children do the work; each thread only forks one and waits on its pipe
        parts = [Background(_evaluate_shard, shard, *args, name="policy") for shard in shards]
        outcomes = [o for part in parts for o in part.result()]
    if memo is not None:
        _remember(memo, fresh, outcomes)
    order = {r.id: n for n, r in enumerate(rules)}
    return sorted(remembered + outcomes, key=lambda o: (o.subject, order[o.rule]))


def _remember(memo: Memo, fresh: dict[str, tuple[str, list[int]]],
              outcomes: list[Outcome]) -> None:
    by_subject: dict[int, list[Outcome]] = {}
    for o in outcomes:
        by_subject.setdefault(o.subject, []).append(o)
    for key, members in fresh.values():
        found = [(o.rule, local, o.status, o.message)
                 for local, i in enumerate(members) for o in by_subject.get(i, [])]
        if all(status in ("pass", "fail", "error") for _, _, status, _ in found):
            memo.put(key, found)


MAX_CHILDREN = 2
BATCH = 256  # results per message from the evaluating child
FLUSH_SECONDS = 0.05
MIN_SHARD = 500  # (rule, subject) pairs below which a second child costs more than it saves


def _shards(pending: list[tuple[Rule, int]], cores: int) -> list[list[tuple[Rule, int]]]:
    if cores < 2 or len(pending) < 2 * MIN_SHARD:
        return [pending]
    cut = len(pending) // 2
    while cut < len(pending) and pending[cut][1] == pending[cut - 1][1]:
        cut += 1  # a subject's rules stay together: they share its converted bindings
    return [pending[:cut], pending[cut:]] if cut < len(pending) else [pending]


def _evaluate_shard(
    pending: list[tuple[Rule, int]],
    subjects: Sequence[Subject],
    workspace: Mapping[str, Any],
    siblings: Mapping[str, Sequence[Sibling]],
    limits: Limits,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    stopped: set[str] = set()
    ctx = multiprocessing.get_context("fork")
    batch = BATCH
    while pending:
        jobs = [(r, subjects[i]) for r, i in pending]
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, daemon=True,
                           args=(send, jobs, workspace, siblings, limits.memory, batch))
        proc.start()
        send.close()
        done, failed = 0, False
        try:
            while done < len(pending) and not failed:
                rule, index = pending[done]
                if not recv.poll(limits.seconds + (FLUSH_SECONDS if batch > 1 else 0)):
                    if batch > 1:
                        break  # some job after `done` hangs: rerun one at a time to name it
                    outcomes.append(Outcome(rule.id, index, "limit",
                                            f"evaluation exceeded {limits.seconds:g}s"))
                    failed = True
                    break
                try:
                    results = recv.recv()
                except EOFError:
                    outcomes.append(Outcome(rule.id, index, "limit",
                                            "evaluation crashed (memory limit exceeded?)"))
                    failed = True
                    break
                for status, message in results:
                    rule, index = pending[done]
                    outcomes.append(Outcome(rule.id, index, status, message))
                    if status == "limit":
                        failed = True
                        break
                    done += 1
        finally:
            recv.close()
            proc.kill()
            proc.join()
        if done == len(pending):
            break
        if not failed:  # a hang somewhere in the last batch: find it precisely
            pending, batch = pending[done:], 1
            continue
        batch = BATCH
        stopped.add(pending[done][0].id)
        rest = pending[done + 1 :]
        for r, i in rest:
            if r.id in stopped:
                outcomes.append(Outcome(r.id, i, "skipped", "not evaluated: the rule exceeded "
                                        "the evaluation limit on an earlier document"))
        pending = [(r, i) for r, i in rest if r.id not in stopped]
    return outcomes
