"""A Lease keeps two reconciles off one inventory: the second waits, then gives up naming
the holder, and changes nothing."""

from __future__ import annotations

import subprocess

from tests.controller.faultproxy import FaultProxy
from tests.controller.kit import Kit, configmap, namespace


def test_second_reconcile_of_one_inventory_is_refused(kit: Kit, proxy: FaultProxy) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a"), configmap(kit.ns, "b")])
    proxy.inject("PATCH", "/configmaps/b", "hold")
    first = subprocess.Popen(kit.command(tree, kubeconfig=proxy.kubeconfig(kit.tmp)), cwd=kit.tmp,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proxy.held.wait(120)
        code, out, _ = kit.apply(tree, "--lease-wait", "2s")
        assert code == 1 and out["result"] == "refused"
        assert "is locked by" in out["reason"] and "another reconcile is running" in out["reason"]
    finally:
        proxy.release.set()
        _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
