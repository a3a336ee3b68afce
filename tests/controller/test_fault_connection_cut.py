"""The connection cut after the apiserver applied an object but before the answer arrived:
the apply is retried (server-side apply is idempotent) and the reconcile converges."""

from __future__ import annotations

from tests.controller.faultproxy import FaultProxy
from tests.controller.kit import Kit, configmap, namespace


def test_connection_cut_mid_apply_converges(kit: Kit, proxy: FaultProxy) -> None:
    fault = proxy.inject("PATCH", "/configmaps/b", "cut")
    tree = kit.tree([namespace(kit.ns), *(configmap(kit.ns, n) for n in "abc")])
    code, out, err = kit.apply(tree, kubeconfig=proxy.kubeconfig(kit.tmp))
    assert code == 0, err
    assert fault.hits == 1
    assert [a for m, p, a in proxy.seen if m == "PATCH" and "/configmaps/b" in p] == ["cut", "forward"]
    assert all(kit.get("cm", n) is not None for n in "abc")
    code, out, _ = kit.apply(tree)
    assert out["plan"]["counts"] == {"create": 0, "update": 0, "delete": 0, "noop": 4}
