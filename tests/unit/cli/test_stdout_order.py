"""`compile --stdout` orders its stream so `kubectl apply -f -` works on an empty cluster
(compiler/render/order.py): Namespaces, then CRDs, then cluster-scoped objects such as the
admission policies, namespaced built-in kinds, custom resources last; within a rank, the
output tree's path order."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from compiler.cli import main
from compiler.render.order import rank


def test_namespaces_and_crds_come_first(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["compile", str(root), "--stdout", "--target", "prod/us-east-1"])
    assert r.exit_code == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace"
    assert kinds[1:3] == ["CustomResourceDefinition", "CustomResourceDefinition"]
    ranks = [rank(d["kind"], d["apiVersion"]) for d in docs]
    assert ranks == sorted(ranks)
    assert kinds.index("ValidatingAdmissionPolicy") < kinds.index("ValidatingAdmissionPolicyBinding")
    assert kinds.index("ValidatingAdmissionPolicyBinding") < kinds.index("Deployment")


def test_the_order_is_deterministic(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    args = ["compile", str(root), "--stdout", "--target", "staging/eu-west-1", "--no-cache"]
    assert CliRunner().invoke(main, args).stdout == CliRunner().invoke(main, args).stdout


def test_without_the_cache_the_stream_skips_the_layout_and_says_the_same(
        make_ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--stdout --no-cache` stops after check (the leaf is dumped from the objects); with
    the cache the layout runs. Stream, diagnostics and exit code are the same."""
    import shutil
    from pathlib import Path

    policy = tmp_path / "policy-ws"
    shutil.copytree(Path(__file__).parents[2] / "diagnostics" / "policy", policy)
    for root, target in ((make_ws(), "prod/us-east-1"), (policy, "staging/eu-west-1")):
        args = ["compile", str(root), "--stdout", "--target", target]
        full, short = CliRunner().invoke(main, args), CliRunner().invoke(main, [*args, "--no-cache"])
        assert (short.exit_code, short.stdout, short.stderr) == (
            full.exit_code, full.stdout, full.stderr)
