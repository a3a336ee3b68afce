"""Evaluate compiled rules over documents, bounded in time and memory.

cel-rust has no cost limit, and a comprehension nested three deep over a long list runs for
minutes while holding the GIL, so no thread can interrupt it. Evaluation therefore runs in a
forked child process (which inherits the compiled programs: nothing is compiled twice) that
streams one result per (rule, document) back over a pipe. When a result does not arrive within
`Limits.seconds`, or the child dies (its address space is capped by `Limits.memory`), the
parent kills it, reports that evaluation, stops evaluating that rule and forks a fresh child
for the rest. Results are a pure function of the inputs, not of timing, except for a rule
that hits the limit.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import cel

from compiler.model.raw import RawDoc
from compiler.policy.rules import Rule

__all__ = ["DEFAULT_LIMITS", "Limits", "Outcome", "Subject", "evaluate"]


@dataclass(frozen=True, slots=True)
class Limits:
    seconds: float = 5.0  # per evaluation of one rule on one document
    memory: int = 1 << 30  # bytes the evaluating child may allocate beyond its parent's size


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Subject:
    """One document a rule may apply to."""

    kind: str
    data: dict[str, Any]  # the CEL `object`
    file: str  # where diagnostics point
    line: int
    col: int
    name: str  # how reports name it: "Agent/summarizer@1.2.0", "prod/eu-west-1/Deployment/x"
    group: str = ""  # sibling group (the output dir of rendered objects)
    doc: RawDoc | None = field(default=None, compare=False, repr=False)  # source documents

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


def _describe(e: BaseException) -> str:
    if isinstance(e, KeyError):
        return f"no such key: {e.args[0]!r}" if e.args else "no such key"
    text = str(e).split(". Check ")[0].split(". CEL does not coerce")[0].strip()
    return text.splitlines()[0] if text else type(e).__name__


def _type_name(v: Any) -> str:
    return {bool: "bool", int: "int", float: "double", str: "string", bytes: "bytes",
            list: "list", dict: "map", type(None): "null"}.get(type(v), type(v).__name__)


class _Contexts:
    """CEL contexts, one per sibling group, the document swapped in per subject.

    Converting Python data to CEL values is most of the cost of an evaluation, so the
    workspace and the siblings are converted once per group, the document once, and every
    rule on that document shares the result.
    """

    def __init__(self, rules: Sequence[Rule], workspace: Mapping[str, Any],
                 siblings: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        self.uses = set().union(*(r.uses for r in rules))
        self.workspace, self.siblings = workspace, siblings
        self.group: str | None = None
        self.ctx: Any = None

    def of(self, subject: Subject) -> Any:
        if subject.group != self.group or self.ctx is None:
            base: dict[str, Any] = {}
            if "workspace" in self.uses:
                base["workspace"] = self.workspace
            if "siblings" in self.uses:
                base["siblings"] = list(self.siblings.get(subject.group, ()))
            self.ctx, self.group = cel.Context(base), subject.group
        self.ctx.add_variable("object", subject.data)
        return self.ctx


def _run_one(rule: Rule, ctx: Any) -> tuple[str, str]:
    try:
        result = rule.program.execute(ctx)
        if not isinstance(result, bool):
            return "error", f"expression returned {_type_name(result)}, not bool"
        if result:
            return "pass", ""
        if rule.message_program is None:
            return "fail", rule.message or ""
        msg = rule.message_program.execute(ctx)
        if not isinstance(msg, str):
            return "error", f"messageExpression returned {_type_name(msg)}, not string"
        return "fail", msg
    except BaseException as e:  # the library raises its own types, Rust panics included
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        return "error", _describe(e)


def _child(conn: Connection, jobs: list[tuple[Rule, Subject]], workspace: Mapping[str, Any],
           siblings: Mapping[str, Sequence[Mapping[str, Any]]], memory: int) -> None:
    # An allocation failure aborts the Rust runtime with a backtrace: the parent reports it.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (size + memory, size + memory))
    except (OSError, ValueError):
        pass  # no /proc or a lower hard limit: the time limit still applies
    contexts = _Contexts([r for r, _ in jobs], workspace, siblings)
    ctx: Any = None
    current: Subject | None = None
    for rule, subject in jobs:
        if subject is not current:  # jobs come grouped by subject
            current = subject
            try:
                ctx = contexts.of(subject)
            except Exception as e:  # a value CEL cannot represent
                contexts.ctx = None
                ctx = e
        if isinstance(ctx, Exception):
            conn.send(("error", f"document cannot be converted to CEL: {_describe(ctx)}"))
            continue
        conn.send(_run_one(rule, ctx))
    conn.close()


def evaluate(
    rules: Sequence[Rule],
    subjects: Sequence[Subject],
    workspace: Mapping[str, Any],
    siblings: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Outcome]:
    """Every rule on every subject it matches, in (subject, rule) order."""
    siblings = siblings or {}
    pending = [(r, i) for i, s in enumerate(subjects) for r in rules
               if r.matches(s.kind, s.labels)]
    outcomes: list[Outcome] = []
    stopped: set[str] = set()
    ctx = multiprocessing.get_context("fork")
    while pending:
        jobs = [(r, subjects[i]) for r, i in pending]
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(send, jobs, workspace, siblings, limits.memory),
                           daemon=True)
        proc.start()
        send.close()
        done = 0
        try:
            while done < len(pending):
                rule, index = pending[done]
                if not recv.poll(limits.seconds):
                    outcomes.append(Outcome(rule.id, index, "limit",
                                            f"evaluation exceeded {limits.seconds:g}s"))
                    break
                try:
                    status, message = recv.recv()
                except EOFError:
                    outcomes.append(Outcome(rule.id, index, "limit",
                                            "evaluation crashed (memory limit exceeded?)"))
                    break
                outcomes.append(Outcome(rule.id, index, status, message))
                done += 1
        finally:
            recv.close()
            proc.kill()
            proc.join()
        if done == len(pending):
            break
        stopped.add(pending[done][0].id)
        rest = pending[done + 1 :]
        for r, i in rest:
            if r.id in stopped:
                outcomes.append(Outcome(r.id, i, "skipped", "not evaluated: the rule exceeded "
                                        "the evaluation limit on an earlier document"))
        pending = [(r, i) for r, i in rest if r.id not in stopped]
    order = {r.id: n for n, r in enumerate(rules)}
    return sorted(outcomes, key=lambda o: (o.subject, order[o.rule]))
