"""SIGKILL between apply and prune, then run again: it converges, nothing is lost, and
nothing is pruned that should stay."""

from __future__ import annotations

import signal
import subprocess

from tests.controller.faultproxy import FaultProxy
from tests.controller.kit import Kit, configmap, namespace


def test_killed_between_apply_and_prune_then_rerun_converges(kit: Kit, proxy: FaultProxy) -> None:
    ns = kit.ns
    code, out, _ = kit.apply(kit.tree([namespace(ns), *(configmap(ns, n) for n in "abcd")]))
    assert code == 0
    inventory = out["inventory"]
    second = kit.tree([namespace(ns), *(configmap(ns, n) for n in "abce")], name="second")
    proxy.inject("DELETE", "/configmaps/d", "hold")  # the prune's first delete never returns
    proc = subprocess.Popen(kit.command(second, kubeconfig=proxy.kubeconfig(kit.tmp)), cwd=kit.tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert proxy.held.wait(120), "the reconcile never reached the prune"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    # Applied but not pruned; the record names old and new, so nothing is forgotten.
    assert kit.get("cm", "e") is not None and kit.get("cm", "d") is not None
    assert {"ConfigMap/d", "ConfigMap/e"} <= set(kit.inventory(inventory))

    code, out, err = kit.apply(second)  # waits for the dead holder's Lease to expire
    assert code == 0, err
    assert out["pruned"] == [{"apiVersion": "v1", "kind": "ConfigMap", "name": "d", "namespace": ns}]
    assert kit.get("cm", "d") is None
    assert all(kit.get("cm", n) is not None for n in "abce")
    assert kit.inventory(inventory) == ["ConfigMap/a", "ConfigMap/b", "ConfigMap/c", "ConfigMap/e",
                                        f"Namespace/{ns}"]
