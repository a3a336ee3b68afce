"""The long-running controller: fetch the source (a directory, or a git repository pulled
each time), reconcile, sleep; /healthz, /readyz and Prometheus /metrics on a local port.

SIGTERM (or SIGINT) lets the step that is running finish, records the reconcile as
interrupted, and exits: a reconcile cut off between steps is safe to run again.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from compiler.controller.client import Cluster
from compiler.controller.reconcile import Options, Outcome, reconcile

__all__ = ["Controller", "Metrics", "Source", "serve"]


class SourceError(Exception):
    """The source could not be fetched (git failed, directory missing)."""


@dataclass(slots=True)
class Source:
    """Where the signed rendered tree comes from: a directory, or a git URL cloned into
    `cache` and fast-forwarded before every reconcile; `subdir` is the tree inside it."""

    location: str
    cache: Path
    subdir: str = "rendered"

    @property
    def is_git(self) -> bool:
        return "://" in self.location or self.location.endswith(".git") or self.location.startswith("git@")

    def fetch(self) -> tuple[Path, str]:
        """(the rendered tree, the revision) after pulling."""
        if not self.is_git:
            path = Path(self.location)
            if not path.is_dir():
                raise SourceError(f"source directory {path} does not exist")
            tree = path / self.subdir if (path / self.subdir / "index.json").is_file() else path
            return tree, ""
        clone = self.cache / "source"
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        if not (clone / ".git").is_dir():
            self.cache.mkdir(parents=True, exist_ok=True)
            self._git(["clone", "--quiet", "--depth", "1", self.location, str(clone)], env)
        else:
            self._git(["-C", str(clone), "fetch", "--quiet", "--depth", "1", "origin", "HEAD"], env)
            self._git(["-C", str(clone), "reset", "--quiet", "--hard", "FETCH_HEAD"], env)
        rev = self._git(["-C", str(clone), "rev-parse", "HEAD"], env).strip()
        return clone / self.subdir, rev

    @staticmethod
    def _git(args: list[str], env: dict[str, str]) -> str:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=300, env=env,
                                  check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SourceError(f"git {args[0]} failed: {exc}") from exc
        if done.returncode != 0:
            raise SourceError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()[:500]}")
        return done.stdout


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reconciles = Counter("mentat_reconcile", "Reconciles by result.", ["result"],
                                  registry=self.registry)
        self.duration = Gauge("mentat_reconcile_duration_seconds", "Duration of the last reconcile.",
                              registry=self.registry)
        self.last = Gauge("mentat_reconcile_last_timestamp_seconds", "When the last reconcile ended.",
                          registry=self.registry)
        self.objects = Gauge("mentat_inventory_objects", "Objects applied by the last reconcile.",
                             registry=self.registry)
        self.pruned = Counter("mentat_pruned_objects", "Objects pruned.", registry=self.registry)
        self.changes = Gauge("mentat_plan_changes", "Changes in the last plan, by operation.", ["op"],
                             registry=self.registry)

    def observe(self, outcome: Outcome, seconds: float) -> None:
        self.reconciles.labels(outcome.result).inc()
        self.duration.set(seconds)
        self.last.set(time.time())
        self.objects.set(len(outcome.applied))
        self.pruned.inc(len(outcome.pruned))
        for op, n in outcome.plan.counts().items():
            self.changes.labels(op).set(n)


@dataclass(slots=True)
class Controller:
    source: Source
    options: Options
    connect: Callable[[], Cluster]
    interval: float
    metrics: Metrics = dataclasses.field(default_factory=Metrics)
    stopping: threading.Event = dataclasses.field(default_factory=threading.Event)
    ready: bool = False
    last: Outcome | None = None
    log: Callable[[str], None] = print

    def once(self) -> Outcome | None:
        started = time.monotonic()
        try:
            tree, rev = self.source.fetch()
        except SourceError as exc:
            self.log(f"source: {exc}")
            self.metrics.reconciles.labels("source-error").inc()
            return None
        opts = dataclasses.replace(self.options, rendered=tree)
        outcome = reconcile(opts, self.connect, should_stop=self.stopping.is_set)
        self.metrics.observe(outcome, time.monotonic() - started)
        self.last = outcome
        self.ready = self.ready or outcome.ok
        where = f" at {rev[:12]}" if rev else ""
        self.log(f"reconcile{where}: {outcome.result}" + (f" — {outcome.reason}" if outcome.reason else "")
                 + f" ({outcome.plan.counts()})")
        return outcome

    def run(self) -> None:
        while not self.stopping.is_set():
            self.once()
            self.stopping.wait(self.interval)


def serve(controller: Controller, host: str, port: int) -> ThreadingHTTPServer:
    """The probe and metrics server, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, b"ok\n", "text/plain")
            elif self.path == "/readyz":
                ok = controller.ready and not controller.stopping.is_set()
                self._send(200 if ok else 503, b"ok\n" if ok else b"not ready\n", "text/plain")
            elif self.path == "/metrics":
                self._send(200, generate_latest(controller.metrics.registry), CONTENT_TYPE_LATEST)
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # probes every few seconds would drown the reconcile log

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
