"""The policy stage's memo: rule outcomes per sibling group (the rendered objects of a flow in
one environment × region, the same unit render caches; or the documents of one source file),
keyed by the rules, the workspace spec and the group's content: an unchanged flow is not
evaluated again."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from compiler.cache.store import Store, key
from compiler.cache.units import CachedObject, data_digest
from compiler.model import K8sObject

__all__ = ["PolicyMemo"]

Outcome = tuple[str, int, str, str]  # rule, index in the group, status, message


class PolicyMemo:
    def __init__(self, store: Store) -> None:
        self._store = store
        # (the object itself, its digest): ids of freed objects get reused
        self._rules: tuple[Any, str] | None = None
        self._workspace: tuple[Any, str] | None = None

    def _rules_digest(self, rules: Any) -> str:
        if self._rules is None or self._rules[0] is not rules:
            text = repr([(r.id, r.severity, r.kinds, r.labels, r.expression, r.message,
                          r.message_expression, r.variables) for r in rules])
            self._rules = (rules, hashlib.sha256(text.encode()).hexdigest())
        return self._rules[1]

    def _workspace_digest(self, workspace: Any) -> str:
        if self._workspace is None or self._workspace[0] is not workspace:
            self._workspace = (workspace, data_digest(workspace))
        return self._workspace[1]

    def known(self, o: K8sObject) -> tuple[str, bool] | None:
        """For an object from the cache: the digest of its dict and whether it carries a
        waiver annotation, both known without unpacking the dict."""
        if not isinstance(o, CachedObject):
            return None
        return o.data_digest, o.waives

    def key(self, rules: Any, workspace: Any, group: Any) -> str | None:
        try:
            return self._group_key(rules, workspace,
                                   [s.digest or data_digest(s.data) for s in group])
        except TypeError:  # data orjson cannot encode: evaluate, do not remember
            return None

    def _group_key(self, rules: Any, workspace: Any, digests: list[str]) -> str:
        return key("policy", [self._rules_digest(rules), self._workspace_digest(workspace),
                              *digests])

    def passes(self, rules: Any, workspace: Any, objects: list[K8sObject]) -> dict[str, int] | None:
        """Passes by rule, when every one of `objects` comes from the cache and carries no
        waiver, and the outcomes remembered for them as a group are all passes (the same
        entry `key` names for their subjects); otherwise None, and they are evaluated."""
        if not all(isinstance(o, CachedObject) and not o.waives for o in objects):
            return None
        group_key = self._group_key(rules, workspace,
                                    [o.data_digest for o in objects])  # type: ignore[attr-defined]
        outcomes = self.get(group_key, count=False)
        if outcomes is None or any(status != "pass" for _, _, status, _ in outcomes):
            return None  # a violation: evaluated (and reported) through `get`
        self._store.stats.count("policy", True)
        return Counter(rule for rule, _, _, _ in outcomes)

    def get(self, group_key: str, count: bool = True) -> list[Outcome] | None:
        value = self._store.get("policy", group_key)
        ok = _outcomes_ok(value)
        if value is not None and not ok:
            self._store.reject("policy", group_key)
        if count:
            self._store.stats.count("policy", ok)
        return value if ok else None

    def put(self, group_key: str, outcomes: list[Outcome]) -> None:
        self._store.put("policy", group_key, outcomes)


def _outcomes_ok(value: Any) -> bool:
    """Remembered outcomes of a group: (rule, index in the group, status, message) tuples."""
    return type(value) is list and all(
        type(o) is tuple and len(o) == 4 and type(o[1]) is int
        and type(o[0]) is type(o[2]) is type(o[3]) is str for o in value)
