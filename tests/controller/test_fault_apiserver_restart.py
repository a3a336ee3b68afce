"""The API server restarted in the middle of a reconcile: requests fail while it is down, are
retried with backoff, and the reconcile completes."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from tests.controller.faultproxy import FaultProxy
from tests.controller.kit import Kit, configmap, namespace


def _wait_ready(cluster: Any) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if cluster._readyz():
                return
        time.sleep(0.2)
    raise AssertionError("the apiserver did not come back")


def test_apiserver_restart_during_reconcile(cluster: Any, kit: Kit, proxy: FaultProxy) -> None:
    proxy.inject("PATCH", "/configmaps/c", "hold")
    tree = kit.tree([namespace(kit.ns), *(configmap(kit.ns, n) for n in "abcdef")])
    result: list[tuple[int, dict[str, Any], str]] = []
    via_proxy = proxy.kubeconfig(kit.tmp)
    runner = threading.Thread(target=lambda: result.append(kit.apply(tree, kubeconfig=via_proxy)))
    runner.start()
    assert proxy.held.wait(120), "the reconcile never reached the apply"
    # Restarted from this thread: the testenv ties the apiserver's life to the thread that starts it.
    apiserver = cluster.components["kube-apiserver"]
    apiserver.stop()
    proxy.release.set()  # the held request fails into the outage, and so do the retries for a while
    time.sleep(2)
    apiserver.start(detach=False)
    _wait_ready(cluster)
    runner.join(300)
    code, out, err = result[0]
    assert code == 0, (out.get("reason"), out.get("problems"), err)
    assert any(action == "hold" for _, _, action in proxy.seen)
    assert all(kit.get("cm", n) is not None for n in "abcdef")
