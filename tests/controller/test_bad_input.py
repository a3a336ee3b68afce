"""Bad input: an unreachable cluster, a kubeconfig without the context, a tree for another
environment. Each a clear error, exit 1, nothing changed in the cluster."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from tests.controller.kit import Kit, configmap, namespace


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_cluster(kit: Kit) -> None:
    cfg = yaml.safe_load(kit.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{_closed_port()}"
    dead = kit.tmp / "dead.kubeconfig"
    dead.write_text(yaml.safe_dump(cfg))
    code, out, _ = kit.apply(kit.tree([namespace(kit.ns), configmap(kit.ns, "a")]), kubeconfig=dead)
    assert code == 1 and out["result"] == "failed"
    assert "cannot reach the API server https://127.0.0.1:" in out["reason"]
    assert kit.get("ns", kit.ns) is None


def test_kubeconfig_without_the_context(kit: Kit) -> None:
    code, out, _ = kit.apply(kit.tree([namespace(kit.ns)]), "--context", "nope")
    assert code == 1 and out["result"] == "failed"
    assert f"context 'nope' is not in {kit.kubeconfig}" in out["reason"]
    assert kit.get("ns", kit.ns) is None


def test_tree_for_another_environment(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a")])
    code, out, _ = kit.apply(tree, env="prod")
    assert code == 1 and out["result"] == "refused"
    assert out["reason"] == "the rendered tree has no target prod/r1 (it renders: staging/r1)"
    assert kit.get("ns", kit.ns) is None


def test_missing_kubeconfig_file(kit: Kit) -> None:
    code, out, _ = kit.apply(kit.tree([namespace(kit.ns)]), kubeconfig=Path("/nonexistent/kubeconfig"))
    assert code == 1 and "kubeconfig /nonexistent/kubeconfig does not exist" in out["reason"]
