"""A real Kubernetes control plane on 127.0.0.1, as envtest runs one, plus kwok's fake nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the pinned upstream
binaries; kwok plays the kubelets of a few fake nodes, so pods are scheduled, become Ready and
Job pods complete. Every component logs to its own file in the run directory; a component that
fails to start raises `ControlPlaneError` with the tail of its log.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testenv.build import binary
from testenv.pki import Pki, make_pki, write_kubeconfig

__all__ = ["Component", "ControlPlane", "ControlPlaneError", "free_port", "port_in_use"]

NODES = ("kwok-node-0", "kwok-node-1", "kwok-node-2")
SERVICE_CIDR = "10.0.0.0/24"
_START_TIMEOUT = 240.0  # generous: a loaded 2-core machine starts the apiserver slowly


class ControlPlaneError(RuntimeError):
    """The control plane could not start or answer; the message carries the component's log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:
    """Children get SIGKILL when the process that started them dies (prctl PR_SET_PDEATHSIG),
    so a test run killed with SIGKILL leaves no etcd or apiserver behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, *, detach: bool) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=None if detach else _die_with_parent)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)


@dataclass
class ControlPlane:
    """Start with `start()`, stop with `stop()` (or use it as a context manager)."""

    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mentat-testenv-")))
    apiserver_port: int | None = None
    with_nodes: bool = True  # controller-manager, scheduler and kwok, for pods and Jobs
    detach: bool = False  # `python -m testenv up`: the components outlive this process
    extra_args: dict[str, list[str]] = field(default_factory=dict)  # component -> more flags
    components: dict[str, Component] = field(default_factory=dict)
    pki: Pki | None = None
    server: str = ""

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        self.dir.mkdir(parents=True, exist_ok=True)
        port = self.apiserver_port or free_port()
        if self.apiserver_port and port_in_use(port):
            raise ControlPlaneError(f"port {port} on 127.0.0.1 is in use: the apiserver cannot "
                                    "listen there; pick another port or free it")
        self.pki = make_pki(self.dir / "pki")
        self.server = f"https://127.0.0.1:{port}"
        write_kubeconfig(self.kubeconfig, self.server, self.pki, "admin")
        try:
            self._start_etcd()
            self._start_apiserver(port)
            if self.with_nodes:
                self._start_controllers()
                self._start_kwok()
        except BaseException:
            self.stop()
            raise
        self._write_state()
        return self

    def stop(self) -> None:
        for c in reversed(list(self.components.values())):
            c.stop()

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self, lines: int = 15) -> str:
        """The tail of every component's log, for a failing test's report."""
        return "\n".join(f"--- {c.name} ({c.log}) ---\n{c.tail(lines)}"
                         for c in self.components.values())

    # --- talking to it --------------------------------------------------------------------

    def kubectl(self, *args: str, input: str | bytes | None = None, check: bool = True,
                timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this control plane."""
        data = input.decode() if isinstance(input, bytes) else input
        proc = subprocess.run([str(binary("kubectl")), "--kubeconfig", str(self.kubeconfig),
                               *args], input=data, capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                                    f"{proc.stderr.strip()}")
        return proc

    def get(self, path: str) -> dict:
        """GET an API path with the admin's client certificate; the decoded JSON."""
        assert self.pki is not None
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        ctx.load_cert_chain(str(self.pki.cert("admin")), str(self.pki.key("admin")))
        with urllib.request.urlopen(self.server + path, context=ctx, timeout=10) as r:
            return json.loads(r.read())

    # --- components -----------------------------------------------------------------------

    def _spawn(self, name: str, argv: Sequence[str]) -> Component:
        c = Component(name, [*argv, *self.extra_args.get(name, [])], self.dir / f"{name}.log")
        self.components[name] = c
        c.start(detach=self.detach)
        return c

    def _wait(self, c: Component, ready: Callable[[], bool], what: str,
              timeout: float = _START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not c.alive():
                code = c.proc.returncode if c.proc else "?"
                raise ControlPlaneError(f"{c.name} exited at start (code {code}) before {what}; "
                                        f"its log ends:\n{c.tail()}")
            with contextlib.suppress(Exception):
                if ready():
                    return
            time.sleep(0.2)
        raise ControlPlaneError(f"{c.name} did not become ready ({what}) within {timeout:.0f} s; "
                                f"its log ends:\n{c.tail()}")

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        url = f"http://127.0.0.1:{client}"
        c = self._spawn("etcd", [
            str(binary("etcd")), "--name", "testenv", "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"testenv=http://127.0.0.1:{peer}",
            "--listen-metrics-urls", f"http://127.0.0.1:{free_port()}",
            # a throwaway store: fsync buys nothing and costs seconds per test run
            "--unsafe-no-fsync", "--quota-backend-bytes", str(4 << 30),
        ])
        self.etcd_url = url

        def healthy() -> bool:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"

        self._wait(c, healthy, "etcd answered /health")

    def _start_apiserver(self, port: int) -> None:
        assert self.pki is not None
        p = self.pki
        c = self._spawn("kube-apiserver", [
            str(binary("kube-apiserver")),
            "--etcd-servers", self.etcd_url,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(port),
            "--tls-cert-file", str(p.cert("apiserver")),
            "--tls-private-key-file", str(p.key("apiserver")),
            "--client-ca-file", str(p.ca),
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(p.sa_pub),
            "--service-account-signing-key-file", str(p.sa_key),
            "--service-cluster-ip-range", SERVICE_CIDR,
            "--authorization-mode", "Node,RBAC",
            "--allow-privileged=true",
            "--cert-dir", str(self.dir / "apiserver-certs"),
            "--profiling=false",
        ])
        self._wait(c, self._readyz, "/readyz answered ok")

    def _readyz(self) -> bool:
        assert self.pki is not None
        ctx = ssl.create_default_context(cafile=str(self.pki.ca))
        ctx.load_cert_chain(str(self.pki.cert("admin")), str(self.pki.key("admin")))
        try:
            with urllib.request.urlopen(self.server + "/readyz", context=ctx, timeout=3) as r:
                return r.read().strip() == b"ok"
        except urllib.error.HTTPError:
            return False

    def _start_controllers(self) -> None:
        assert self.pki is not None
        p = self.pki
        kcm_cfg = write_kubeconfig(self.dir / "controller-manager.kubeconfig", self.server, p,
                                   "controller-manager")
        sched_cfg = write_kubeconfig(self.dir / "scheduler.kubeconfig", self.server, p,
                                     "scheduler")
        kcm_port, sched_port = free_port(), free_port()
        kcm = self._spawn("kube-controller-manager", [
            str(binary("kube-controller-manager")), *_client_flags(kcm_cfg, kcm_port),
            "--cert-dir", str(self.dir / "kcm-certs"),
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            "--service-account-private-key-file", str(p.sa_key),
            "--root-ca-file", str(p.ca),
            "--cluster-signing-cert-file", str(p.ca),
            "--cluster-signing-key-file", str(p.ca_key),
            "--service-cluster-ip-range", SERVICE_CIDR,
            # kwok's nodes have no cloud and no kubelet certificates to approve
            "--controllers", "*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller",
        ])
        sched = self._spawn("kube-scheduler", [
            str(binary("kube-scheduler")), *_client_flags(sched_cfg, sched_port),
            "--leader-elect=false",
        ])
        # The controller-manager works when it has made the default ServiceAccount.
        self._wait(kcm, lambda: bool(self.get("/api/v1/namespaces/default/serviceaccounts/default")),
                   "the default ServiceAccount exists")
        self._wait(sched, lambda: _healthz(sched_port), "/healthz answered ok")
        self._wait(kcm, lambda: _healthz(kcm_port), "/healthz answered ok")

    def _start_kwok(self) -> None:
        c = self._spawn("kwok", [
            str(binary("kwok")),
            "--kubeconfig", str(self.kubeconfig),
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-lease-duration-seconds=40",
            "--cidr=10.244.0.0/16", "--node-ip=10.240.0.1",
            "-v=WARN",  # its INFO lines (a lease renewal every 10 s) would bury a failure's tail
        ])
        for name in NODES:
            self.kubectl("apply", "--server-side", "--field-manager", "testenv", "-f", "-",
                         input=json.dumps(_node(name)))

        def nodes_ready() -> bool:
            items = self.get("/api/v1/nodes")["items"]
            ready = [n for n in items if any(
                cond["type"] == "Ready" and cond["status"] == "True"
                for cond in n.get("status", {}).get("conditions", []))]
            return len(ready) >= len(NODES)

        self._wait(c, nodes_ready, f"{len(NODES)} fake nodes are Ready")

    def _write_state(self) -> None:
        state = {"kubeconfig": str(self.kubeconfig), "server": self.server,
                 "pids": {n: c.proc.pid for n, c in self.components.items() if c.proc}}
        (self.dir / "state.json").write_text(json.dumps(state, indent=2))


def _client_flags(kubeconfig: Path, port: int) -> list[str]:
    """The controller-manager and the scheduler: one kubeconfig for talking to the apiserver
    and for checking who calls them, and their own /healthz on 127.0.0.1."""
    return ["--kubeconfig", str(kubeconfig), "--authentication-kubeconfig", str(kubeconfig),
            "--authorization-kubeconfig", str(kubeconfig),
            "--bind-address", "127.0.0.1", "--secure-port", str(port)]


def _healthz(port: int) -> bool:
    """The controller-manager's and scheduler's /healthz (self-signed serving certificates;
    the path needs no credentials)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ctx, timeout=3) as r:
        return r.read().strip() == b"ok"


def _node(name: str) -> dict:
    """A node kwok manages: big enough for every example workload, GPUs included."""
    capacity = {"cpu": "64", "memory": "256Gi", "pods": "250", "nvidia.com/gpu": "8",
                "ephemeral-storage": "1Ti"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "type": "kwok",
                       "topology.kubernetes.io/region": "testenv"},
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": capacity},
    }
