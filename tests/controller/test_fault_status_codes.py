"""409, 429 and 500 from the API server are retried with backoff, and the reconcile recovers."""

from __future__ import annotations

import pytest

from tests.controller.faultproxy import FaultProxy
from tests.controller.kit import Kit, configmap, namespace


@pytest.mark.parametrize(("method", "path", "status"), [
    ("PATCH", "/configmaps/b", 409),  # an optimistic-concurrency conflict, not a field conflict
    ("GET", "/configmaps", 429),
    ("PATCH", "/configmaps/a", 500),
])
def test_transient_errors_are_retried_until_they_pass(kit: Kit, proxy: FaultProxy, method: str, path: str,
                                                      status: int) -> None:
    fault = proxy.inject(method, path, status, times=2)
    code, out, err = kit.apply(kit.tree([namespace(kit.ns), configmap(kit.ns, "a"), configmap(kit.ns, "b")]),
                               kubeconfig=proxy.kubeconfig(kit.tmp))
    assert code == 0, err
    assert fault.hits == 2
    assert out["plan"]["counts"]["create"] == 3
    assert kit.get("cm", "a") is not None and kit.get("cm", "b") is not None
    matching = [s for s in proxy.seen if s[0] == method and path in s[1]]
    assert [a for _, _, a in matching][:3] == [status, status, "forward"]
