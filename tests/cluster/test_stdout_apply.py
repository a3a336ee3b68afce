"""The `compile --stdout` stream applies in one `kubectl apply -f -` to a cluster that has
never seen the workspace (its namespace does not exist yet): the order is right."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.conftest import WORKSPACE

pytestmark = pytest.mark.cluster


def test_the_stream_applies_to_an_empty_namespace(cluster, make_ws) -> None:  # type: ignore[no-untyped-def]
    ws = WORKSPACE.replace("mentat-prod", "stdout-order-prod").replace("mentat-staging",
                                                                      "stdout-order-staging")
    root = make_ws(workspace=ws)
    r = CliRunner().invoke(main, ["compile", str(root), "--stdout", "--target", "prod/us-east-1"])
    assert r.exit_code == 0, r.stderr
    assert cluster.kubectl("get", "namespace", "stdout-order-prod", check=False).returncode != 0
    done = cluster.kubectl("apply", "--server-side", "--field-manager", "mentatctl-tests",
                           "-f", "-", input=r.stdout, check=False)
    assert done.returncode == 0, done.stderr
    names = cluster.kubectl("get", "deployments,services,serviceaccounts,configmaps",
                            "-n", "stdout-order-prod", "-o", "name").stdout.split()
    assert "deployment.apps/digest-sum" in names and "serviceaccount/digest" in names, names
