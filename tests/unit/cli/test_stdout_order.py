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
