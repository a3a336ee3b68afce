"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the REAL apiserver (never an
imitation of it: every request it does not fault is forwarded, and every answer is the
apiserver's own).

The client speaks plain HTTP to the proxy (its kubeconfig holds no credentials); the proxy
forwards over TLS with the upstream kubeconfig's CA, client certificate or token. Faults are
queued per (method, path fragment): answer with a status (409, 429, 500...), `cut` (forward,
then drop the connection before answering: the change happened, the client never heard), or
`hold` (stop before forwarding until released: the test kills the client meanwhile).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["Fault", "FaultProxy"]

_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


@dataclass
class Fault:
    method: str
    path: str  # a fragment of the request path
    action: int | str  # an HTTP status, "cut" or "hold"
    times: int = 1
    hits: int = 0


@dataclass
class FaultProxy:
    upstream_kubeconfig: Path
    faults: list[Fault] = field(default_factory=list)
    seen: list[tuple[str, str, int | str]] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="faultproxy-")
        cfg = yaml.safe_load(self.upstream_kubeconfig.read_text())
        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next((u["user"] for u in cfg.get("users") or [] if u["name"] == ctx.get("user")), {})
        url = urlsplit(cluster["server"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.context = ssl.create_default_context(cafile=self._file(cluster, "certificate-authority"))
        cert, key = self._file(user, "client-certificate"), self._file(user, "client-key")
        if cert and key:
            self.context.load_cert_chain(cert, key)
        self.token = user.get("token", "")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _file(self, section: dict[str, Any], key: str) -> str | None:
        if section.get(f"{key}-data"):
            path = Path(self._tmp.name) / key
            path.write_bytes(base64.b64decode(section[f"{key}-data"]))
            return str(path)
        return section.get(key)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, directory: Path) -> Path:
        path = directory / "proxy.kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "proxy",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
        }))
        return path

    def inject(self, method: str, path: str, action: int | str, times: int = 1) -> Fault:
        fault = Fault(method.upper(), path, action, times)
        with self.lock:
            self.faults.append(fault)
        return fault

    def _take(self, method: str, path: str) -> int | str | None:
        with self.lock:
            for f in self.faults:
                if f.method == method and f.path in path and f.hits < f.times:
                    f.hits += 1
                    return f.action
        return None

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._tmp.cleanup()

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=60)
        try:
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                method, path = self.command, self.path
                action = proxy._take(method, path)
                proxy.seen.append((method, path, action if action is not None else "forward"))
                if action == "hold":
                    proxy.held.set()
                    proxy.release.wait()
                    self.close_connection = True
                    return
                if isinstance(action, int):
                    reason = {409: "Conflict", 429: "TooManyRequests", 500: "InternalError",
                              503: "ServiceUnavailable"}.get(action, "Error")
                    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": f"injected {action}", "reason": reason, "code": action}
                    self._reply(action, [("Content-Type", "application/json")], json.dumps(status).encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP | {"host"}}
                try:
                    status, rheaders, data = proxy._forward(method, path, headers, body)
                except OSError:
                    self.close_connection = True  # upstream down: the client sees the connection drop
                    return
                if action == "cut":
                    self.close_connection = True
                    return
                skip = _HOP | {"content-length"}
                self._reply(status, [(k, v) for k, v in rheaders if k.lower() not in skip], data)

            def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
