"""A coordination.k8s.io Lease per inventory: two controllers never reconcile one inventory at
once. Held for `duration` seconds and renewed in the background; a holder that died (SIGKILL)
frees it when the lease expires, and the next run waits for that instead of failing.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from compiler.controller.client import ApiError, Cluster, ConflictError, NotFoundError
from compiler.controller.inventory import Ref

__all__ = ["Lease", "LeaseHeld"]


class LeaseHeld(Exception):
    """Another holder has the lease and kept renewing it."""


def _micro(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


@dataclass(slots=True)
class Lease:
    cluster: Cluster
    namespace: str
    name: str
    holder: str
    duration: int = 15
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    lost: bool = False

    @property
    def ref(self) -> Ref:
        return Ref("coordination.k8s.io", "Lease", self.namespace, self.name, "v1")

    def _body(self, rv: str = "", acquire: bool = True) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if rv:
            meta["resourceVersion"] = rv
        spec: dict[str, Any] = {"holderIdentity": self.holder if acquire else "",
                                "leaseDurationSeconds": self.duration, "renewTime": _micro(now)}
        if acquire:
            spec["acquireTime"] = _micro(now)
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    def _try(self) -> str:
        """'' when acquired, else who holds it."""
        live = self.cluster.get(self.ref)
        if live is None:
            try:
                self.cluster.create(self._body())
                return ""
            except ConflictError:
                return "(another holder, just now)"
        spec = live.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        renewed = spec.get("renewTime")
        expired = True
        if holder and renewed:
            seconds = int(spec.get("leaseDurationSeconds") or self.duration)
            until = _parse(renewed) + dt.timedelta(seconds=seconds)
            expired = until < dt.datetime.now(dt.UTC)
        if holder and holder != self.holder and not expired:
            return holder
        try:
            self.cluster.replace(self._body(str(live["metadata"]["resourceVersion"])))
            return ""
        except ConflictError:
            return "(another holder, just now)"

    def acquire(self, wait: float | None = None) -> None:
        """Take the lease, waiting up to `wait` seconds (default: one lease duration and a bit)."""
        deadline = time.monotonic() + (self.duration + 5 if wait is None else wait)
        while True:
            holder = self._try()
            if not holder:
                break
            if time.monotonic() >= deadline:
                raise LeaseHeld(f"inventory {self.name} is locked by {holder} (Lease "
                                f"{self.namespace}/{self.name}); another reconcile is running")
            time.sleep(1.0)
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.duration / 3):
            try:
                live = self.cluster.get(self.ref)
                if live is None or (live.get("spec") or {}).get("holderIdentity") != self.holder:
                    self.lost = True
                    return
                self.cluster.replace(self._body(str(live["metadata"]["resourceVersion"])))
            except ApiError:
                continue  # retried on the next tick; losing it is noticed there

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            live = self.cluster.get(self.ref)
            if live and (live.get("spec") or {}).get("holderIdentity") == self.holder:
                self.cluster.replace(self._body(str(live["metadata"]["resourceVersion"]), acquire=False))
        except (NotFoundError, ConflictError):
            pass
        except ApiError:
            pass  # it expires on its own
