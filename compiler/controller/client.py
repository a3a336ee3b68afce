"""The one module that imports the official `kubernetes` client.

A `Cluster` wraps its dynamic client: discovery (kind → resource), get/list, server-side apply
(field manager `mentatctl`, conflicts reported, `force` to take fields over, server-side
dry-run), delete with a uid precondition, create/replace for the records. Every call retries
429, 5xx, and connection errors with capped exponential backoff and full jitter; a 409 that is
a field-manager conflict is never retried (it needs a human or `--force-conflicts`), any other
409 (an optimistic-concurrency race) is. Errors come out as one typed family, split 4xx/5xx.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import urllib3

from compiler.controller.inventory import Ref

# kubernetes.dynamic imports kubernetes_validate (jsonschema: 30-45 ms of a ~0.7 s no-op
# apply) for a client-side validate() we never call: hidden while the package loads (its
# ImportError fallback), importable as usual afterwards
_HIDE = "kubernetes_validate" not in sys.modules
if _HIDE:
    sys.modules["kubernetes_validate"] = None  # type: ignore[assignment]
try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.dynamic import DynamicClient
    from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError
finally:
    if _HIDE:
        del sys.modules["kubernetes_validate"]

__all__ = [
    "FIELD_MANAGER",
    "ApiError",
    "ClientError",
    "Cluster",
    "ConfigError",
    "ConflictError",
    "NotFoundError",
    "Retry",
    "ServerError",
    "UnknownKindError",
    "UnreachableError",
    "connect",
]

FIELD_MANAGER = "mentatctl"
_PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
_PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


class ConfigError(Exception):
    """The kubeconfig cannot be used (missing file, unknown context, bad credentials)."""


class ApiError(Exception):
    """A request failed. `status` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, status: int, reason: str, message: str, what: str = "") -> None:
        self.status, self.reason, self.message, self.what = status, reason, message, what
        where = f"{what}: " if what else ""
        super().__init__(f"{where}{message} (HTTP {status} {reason})" if status else f"{where}{message}")


class ClientError(ApiError):
    """4xx: the request is wrong for this cluster (invalid object, forbidden, ...)."""


class NotFoundError(ClientError):
    """404."""


class ConflictError(ClientError):
    """409. `managers` holds the other field managers of a server-side apply conflict."""

    def __init__(self, status: int, reason: str, message: str, what: str = "",
                 causes: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(status, reason, message, what)
        self.causes = causes  # (field, message)

    @property
    def field_conflict(self) -> bool:
        return bool(self.causes)


class ServerError(ApiError):
    """5xx (and 429, which is retried the same way)."""


class UnreachableError(ApiError):
    """No HTTP answer: connection refused or cut, TLS failure, timeout."""


class UnknownKindError(ClientError):
    """The cluster serves no such apiVersion/kind (a CRD not established yet, a typo)."""


@dataclass(slots=True)
class Retry:
    """Capped exponential backoff with full jitter (AWS architecture blog's "full jitter")."""

    attempts: int = 10
    base: float = 0.2
    cap: float = 5.0
    outage: float = 45.0  # connection errors are retried this long: an apiserver restart takes a while
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    retried: int = field(default=0)

    def delay(self, attempt: int) -> float:
        return self.rand() * min(self.cap, self.base * 2**attempt)


def _typed(status: int, reason: str, message: str, what: str, body: Mapping[str, Any] | None) -> ApiError:
    if status == 409:
        causes = tuple(
            (str(c.get("field", "")), str(c.get("message", "")))
            for c in ((body or {}).get("details") or {}).get("causes") or []
            if isinstance(c, dict) and c.get("reason") == "FieldManagerConflict"
        )
        return ConflictError(status, reason, message, what, causes)
    if status == 404:
        return NotFoundError(status, reason, message, what)
    if status == 429 or status >= 500:
        return ServerError(status, reason, message, what)
    return ClientError(status, reason, message, what)


def _from_dynamic(exc: DynamicApiError, what: str) -> ApiError:
    status = int(getattr(exc, "status", 0) or 0)
    body: dict[str, Any] | None = None
    raw = getattr(exc, "body", None)
    try:
        parsed = json.loads(raw) if raw else None
        body = parsed if isinstance(parsed, dict) else None
    except (TypeError, ValueError):
        body = None
    message = str((body or {}).get("message") or getattr(exc, "reason", "") or "request failed")
    return _typed(status, str(getattr(exc, "reason", "") or ""), message, what, body)


def _json(obj: Mapping[str, Any]) -> str:
    """A request body: orjson is ~5x json.dumps (16 ms per 1k objects here); json.dumps for
    what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(obj)


def _retryable(exc: ApiError) -> bool:
    if isinstance(exc, UnreachableError | ServerError):
        return True
    return isinstance(exc, ConflictError) and not exc.field_conflict and exc.reason != "AlreadyExists"


@dataclass(frozen=True, slots=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str = "", name: str = "") -> str:
        group, _, version = self.api_version.rpartition("/")
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


class Cluster:
    """One API server, reached through a kubeconfig context."""

    def __init__(self, api: k8s_client.ApiClient, context: str, retry: Retry | None = None,
                 timeout: tuple[float, float] = (5.0, 30.0)) -> None:
        self.api = api
        self.context = context
        self.server = str(api.configuration.host)
        self.retry = retry or Retry()
        self.timeout = timeout
        self._dyn: DynamicClient | None = None
        self._kinds: dict[tuple[str, str], Kind] = {}
        self._lock = threading.Lock()

    # --- plumbing -----------------------------------------------------------------------------

    def _dynamic(self) -> DynamicClient:
        if self._dyn is None:
            cache = Path(tempfile.gettempdir()) / f"mentatctl-discovery-{os.getpid()}-{id(self)}.json"
            self._dyn = self._call(lambda: DynamicClient(self.api, cache_file=str(cache)), "discovery")
        return self._dyn

    def _call(self, fn: Callable[[], Any], what: str) -> Any:
        attempt, first_failure = 0, 0.0
        while True:
            try:
                try:
                    return fn()
                except DynamicApiError as exc:
                    raise _from_dynamic(exc, what) from exc
                except k8s_client.ApiException as exc:
                    raise _from_dynamic(exc, what) from exc  # type: ignore[arg-type]
                except (urllib3.exceptions.HTTPError, OSError) as exc:
                    raise UnreachableError(0, "", f"cannot reach the API server {self.server}: "
                                           f"{type(exc).__name__}: {exc}", what) from exc
            except ApiError as exc:
                first_failure = first_failure or time.monotonic()
                down = isinstance(exc, UnreachableError) and \
                    time.monotonic() - first_failure < self.retry.outage
                if not _retryable(exc) or (attempt + 1 >= self.retry.attempts and not down):
                    raise
                self.retry.retried += 1
                self.retry.sleep(self.retry.delay(attempt))
                attempt += 1

    def request(self, method: str, path: str, body: Any = None, what: str = "",
                content_type: str = "", **params: Any) -> dict[str, Any]:
        def go() -> dict[str, Any]:
            extra = {"content_type": content_type} if content_type else {}
            resp = self._dynamic().request(method, path, body=body, serialize=False,
                                           _request_timeout=self.timeout, **extra, **params)
            data = resp.data if hasattr(resp, "data") else resp
            return orjson.loads(data) if data else {}  # a 10k-object LIST: orjson is ~3x json

        return self._call(go, what or f"{method.upper()} {path}")

    def kind(self, api_version: str, kind: str) -> Kind:
        key = (api_version, kind)
        if key in self._kinds:
            return self._kinds[key]
        with self._lock:
            if key not in self._kinds:
                self._kinds[key] = self._discover(api_version, kind)
        return self._kinds[key]

    def _discover(self, api_version: str, kind: str) -> Kind:
        dyn = self._dynamic()
        for fresh in (False, True):
            try:
                if fresh:
                    self._call(dyn.resources.invalidate_cache, "discovery")
                res = self._call(lambda: dyn.resources.get(api_version=api_version, kind=kind),
                                 f"discovery of {kind} {api_version}")
                return Kind(api_version, kind, str(res.name), bool(res.namespaced))
            except ResourceNotFoundError:
                continue
        raise UnknownKindError(0, "", f"the cluster serves no {kind} in {api_version}",
                               f"{kind} {api_version}")

    def forget_kinds(self, kinds: Iterable[tuple[str, str]]) -> None:
        """After CRDs are established: (group, kind)s whose served versions may have changed.
        Only a kind already looked up can be stale; a new one is found when first asked for
        (a miss re-reads discovery), so a first apply does not discover every group twice."""
        wanted = set(kinds)
        with self._lock:
            stale = [key for key, k in self._kinds.items()
                     if (k.api_version.rpartition("/")[0], k.kind) in wanted]
            for key in stale:
                del self._kinds[key]
            if stale and self._dyn is not None:
                self._call(self._dyn.resources.invalidate_cache, "discovery")

    def namespaced_kinds(self) -> list[tuple[str, str]]:
        """(apiVersion, kind) of every listable namespaced resource, preferred versions."""
        found = self._call(lambda: self._dynamic().resources.search(namespaced=True), "discovery")
        return sorted({(str(r.group_version), str(r.kind)) for r in found
                       if r.preferred and "list" in (r.verbs or []) and "/" not in str(r.name)
                       and not str(r.kind).endswith("List")})

    # --- verbs --------------------------------------------------------------------------------

    def get(self, ref: Ref) -> dict[str, Any] | None:
        k = self.kind(ref.api_version, ref.kind)
        try:
            return self.request("get", k.path(ref.namespace, ref.name), what=str(ref))
        except NotFoundError:
            return None

    def list(self, api_version: str, kind: str, namespace: str = "", label_selector: str = "",
             metadata_only: bool = False) -> list[dict[str, Any]]:
        """Every object of a kind (in a namespace), 500 a page. `metadata_only`: the server
        sends PartialObjectMetadata (no spec, data or status), items keep that kind."""
        k = self.kind(api_version, kind)
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            params: dict[str, Any] = {"limit": 500}
            if label_selector:
                params["label_selector"] = label_selector
            if metadata_only:
                params["header_params"] = {"Accept": _PARTIAL_LIST}
            if token:
                params["_continue"] = token
            page = self.request("get", k.path(namespace), what=f"list {kind}", **params)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def apply(self, obj: Mapping[str, Any], *, force: bool = False, dry_run: bool = False,
              metadata_only: bool = False) -> dict[str, Any]:
        """Server-side apply as field manager `mentatctl`. `metadata_only`: the server answers
        with PartialObjectMetadata (uid, resourceVersion, labels...; no spec, data or status),
        for callers that keep only those: less for the apiserver to encode and for us to parse."""
        meta = obj.get("metadata") or {}
        k = self.kind(str(obj["apiVersion"]), str(obj["kind"]))
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        what = f"{obj['kind']} {ns}{meta['name']}"
        params: dict[str, Any] = {"field_manager": FIELD_MANAGER}
        if force:
            params["force_conflicts"] = True
        if dry_run:
            params["dry_run"] = "All"
        if metadata_only:
            params["header_params"] = {"Accept": _PARTIAL}
        return self.request("patch", k.path(str(meta.get("namespace") or ""), str(meta["name"])),
                            body=_json(obj), what=what,
                            content_type="application/apply-patch+yaml", **params)

    def delete(self, ref: Ref, uid: str = "", dry_run: bool = False) -> bool:
        """Delete (background propagation); with `uid`, only that very object. False if gone."""
        k = self.kind(ref.api_version, ref.kind)
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1",
                                "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        params = {"dry_run": "All"} if dry_run else {}
        try:
            self.request("delete", k.path(ref.namespace, ref.name), body=body, what=str(ref), **params)
        except NotFoundError:
            return False
        return True

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        k = self.kind(str(obj["apiVersion"]), str(obj["kind"]))
        return self.request("post", k.path(str(meta.get("namespace") or "")), body=dict(obj),
                            what=f"create {obj['kind']} {meta.get('name')}")

    def replace(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """PUT with the object's resourceVersion: fails with 409 if someone wrote in between."""
        meta = obj.get("metadata") or {}
        k = self.kind(str(obj["apiVersion"]), str(obj["kind"]))
        return self.request("put", k.path(str(meta.get("namespace") or ""), str(meta["name"])),
                            body=dict(obj), what=f"replace {obj['kind']} {meta.get('name')}")


def connect(kubeconfig: Path | None = None, context: str | None = None, retry: Retry | None = None,
            pool: int = 10) -> Cluster:
    """A Cluster from a kubeconfig (default $KUBECONFIG or ~/.kube/config) and context."""
    path = kubeconfig or Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config")
    path = path.expanduser()
    if not path.is_file():
        raise ConfigError(f"kubeconfig {path} does not exist")
    cfg = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(config_file=str(path), context=context, client_configuration=cfg,
                                    persist_config=False)
    except ConfigException as exc:
        text = str(exc)
        if context and "contexts list" in text:
            text = f"context {context!r} is not in {path}"
        raise ConfigError(f"kubeconfig {path}: {text}") from exc
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"kubeconfig {path} is unusable: {exc}") from exc
    cfg.retries = False  # ours, with jitter, replace urllib3's
    cfg.connection_pool_maxsize = pool  # the apply workers (8), the Lease's renewer and the main thread
    name = context or _current_context(path)
    return Cluster(k8s_client.ApiClient(cfg), name, retry)


def _current_context(path: Path) -> str:
    try:
        _, current = k8s_config.list_kube_config_contexts(str(path))
    except (ConfigException, OSError, ValueError):
        return ""
    return str((current or {}).get("name", ""))
