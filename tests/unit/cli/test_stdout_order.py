"""`compile --stdout` orders its stream so `kubectl apply -f -` works on an empty cluster:
Namespaces, then CRDs, then the admission policies, the other built-in kinds in dependency
order, custom resources last; within a kind, the stable path order."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from compiler.cli import APPLY_ORDER, main


def test_namespaces_and_crds_come_first(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["compile", str(root), "--stdout", "--target", "prod/us-east-1"])
    assert r.exit_code == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
    assert kinds[0] == "Namespace"
    assert kinds[1:3] == ["CustomResourceDefinition", "CustomResourceDefinition"]
    ranks = [APPLY_ORDER.index(k) if k in APPLY_ORDER else len(APPLY_ORDER) for k in kinds]
    assert ranks == sorted(ranks)
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")
    assert kinds.index("ValidatingAdmissionPolicy") < kinds.index("ValidatingAdmissionPolicyBinding")


def test_the_order_is_deterministic(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    args = ["compile", str(root), "--stdout", "--target", "staging/eu-west-1", "--no-cache"]
    assert CliRunner().invoke(main, args).stdout == CliRunner().invoke(main, args).stdout
