"""The health step: wait, with a timeout, until what was applied works, by kind.

Deployment (and StatefulSet, DaemonSet): rolled out — the controller saw this generation and
every replica is updated and available. Job: Complete (Failed is final at once). CronJob:
scheduled — the schedule is active (not suspended); waiting for its first run could take a
day. CustomResourceDefinition: Established. Service with a selector: at least one ready
endpoint. Anything else: existing is healthy. A timeout names each unhealthy object and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.controller.client import Cluster
from compiler.controller.inventory import Ref

__all__ = ["HealthResult", "check", "wait_healthy"]


@dataclass(frozen=True, slots=True)
class HealthResult:
    unhealthy: tuple[tuple[Ref, str], ...]  # (object, why)
    failed: bool  # a final failure (Job Failed): waiting longer would not help

    @property
    def ok(self) -> bool:
        return not self.unhealthy

    def messages(self) -> list[str]:
        return [f"{ref}: {why}" for ref, why in self.unhealthy]


def _condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return c
    return None


def _rollout(obj: Mapping[str, Any]) -> str | None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    meta = obj.get("metadata") or {}
    if int(status.get("observedGeneration", 0)) < int(meta.get("generation", 0)):
        return "the controller has not observed the new generation yet"
    kind = obj.get("kind")
    if kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled", 0))
        ready, updated = int(status.get("numberAvailable", 0)), int(status.get("updatedNumberScheduled", 0))
    else:
        want = int(spec.get("replicas", 1))
        ready = int(status.get("availableReplicas" if kind == "Deployment" else "readyReplicas", 0))
        updated = int(status.get("updatedReplicas", 0))
    progressing = _condition(obj, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return f"rollout stuck: {progressing.get('message', 'progress deadline exceeded')}"
    if updated < want or ready < want:
        why = f"{ready}/{want} replicas available, {updated}/{want} updated"
        available = _condition(obj, "Available")
        if available and available.get("status") != "True" and available.get("message"):
            why += f" ({available['message']})"
        return why
    return None


def check(obj: Mapping[str, Any], endpoints: Callable[[str, str], bool]) -> tuple[str | None, bool]:
    """(why it is unhealthy or None, whether that is final)."""
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        return _rollout(obj), False
    if kind == "Job":
        failed = _condition(obj, "Failed")
        if failed and failed.get("status") == "True":
            return f"job failed: {failed.get('reason', '')} {failed.get('message', '')}".rstrip(), True
        complete = _condition(obj, "Complete")
        return (None if complete and complete.get("status") == "True" else "job not complete"), False
    if kind == "CronJob":
        suspended = (obj.get("spec") or {}).get("suspend") is True
        return ("suspended: it will never be scheduled" if suspended else None), False
    if kind == "CustomResourceDefinition":
        est = _condition(obj, "Established")
        return (None if est and est.get("status") == "True" else "not Established"), False
    if kind == "Service":
        spec = obj.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return None, False
        meta = obj.get("metadata") or {}
        if not endpoints(str(meta.get("namespace", "")), str(meta.get("name", ""))):
            return "no ready endpoints (no ready pod matches its selector)", False
    return None, False


def _snapshot(cluster: Cluster, refs: Sequence[Ref]) -> tuple[dict[tuple[str, str, str, str], dict[str, Any]],
                                                           set[tuple[str, str]]]:
    """The live objects, one LIST per (apiVersion, kind, namespace) instead of a GET each, and
    the (namespace, service) pairs that have a ready endpoint."""
    live: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    groups: dict[tuple[str, str, str], list[Ref]] = {}
    for ref in refs:
        groups.setdefault((ref.api_version, ref.kind, ref.namespace), []).append(ref)
    for (api_version, kind, namespace), members in sorted(groups.items()):
        if len(members) == 1:
            obj = cluster.get(members[0])
            if obj is not None:
                live[members[0].key] = obj
            continue
        wanted = {r.name: r for r in members}
        for obj in cluster.list(api_version, kind, namespace):
            name = (obj.get("metadata") or {}).get("name")
            if name in wanted:
                live[wanted[name].key] = obj
    ready: set[tuple[str, str]] = set()
    for namespace in sorted({r.namespace for r in refs if r.kind == "Service" and r.group == ""}):
        for s in cluster.list("discovery.k8s.io/v1", "EndpointSlice", namespace):
            service = ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name")
            if service and any((ep.get("conditions") or {}).get("ready", True) is not False
                               for ep in s.get("endpoints") or []):
                ready.add((namespace, service))
    return live, ready


def wait_healthy(cluster: Cluster, refs: Sequence[Ref], timeout: float, interval: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> HealthResult:
    """Poll until every object is healthy, one fails for good, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    pending = list(refs)
    while True:
        live, ready = _snapshot(cluster, pending)
        unhealthy: list[tuple[Ref, str]] = []
        final = False
        for ref in pending:
            obj = live.get(ref.key)
            if obj is None:
                unhealthy.append((ref, "does not exist"))
                continue
            why, is_final = check(obj, lambda ns, name: (ns, name) in ready)  # noqa: B023 (called here)
            if why:
                unhealthy.append((ref, why))
                final = final or is_final
        if not unhealthy or final or time.monotonic() >= deadline:
            return HealthResult(tuple(unhealthy), final)
        pending = [r for r, _ in unhealthy]
        sleep(interval)
