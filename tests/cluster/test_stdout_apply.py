"""`mentatctl compile --stdout --target ENV/REGION` (what the Argo CD plugin runs) is a stream
plain `kubectl apply -f -` takes on an empty cluster: its own control plane (etcd and
kube-apiserver from testenv/, nothing installed), Namespaces and CRDs created before what
needs them, the admission policies in force before the workloads they judge. The same
objects in the reverse order fail there, so the order is what makes it work."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from compiler.cli import main
from testenv import ControlPlane
from tests.cluster.kit import REPO

pytestmark = pytest.mark.cluster
TARGETS = ("staging/eu-west-1", "prod/us-east-1")


def _stream(target: str) -> str:
    out = CliRunner().invoke(main, ["compile", str(REPO), "--stdout", "--no-cache", "--target",
                                    target], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.stdout


def test_stdout_stream_applies_on_an_empty_cluster(tmp_path: Path) -> None:
    with ControlPlane(dir=tmp_path / "plane", with_nodes=False) as plane:
        for target in TARGETS:
            stream = _stream(target)
            docs = [d for d in yaml.safe_load_all(stream) if d]
            proc = plane.kubectl("apply", "-f", "-", input=stream, check=False)
            assert proc.returncode == 0, proc.stderr
            assert len(proc.stdout.splitlines()) == len(docs)  # one line per object
        namespaces = plane.kubectl("get", "namespaces", "-o", "name").stdout.split()
        assert {"namespace/mentat-staging", "namespace/mentat-prod"} <= set(namespaces)
        policies = plane.kubectl("get", "validatingadmissionpolicies", "-o", "name").stdout
        assert "mentatlab-run-as-non-root" in policies

        # Control: the same leaf into a namespace that does not exist yet, in reverse order.
        stream = _stream("staging/eu-west-1").replace("mentat-staging", "mentat-reversed")
        docs = [d for d in yaml.safe_load_all(stream) if d][::-1]
        reversed_stream = "".join("---\n" + yaml.safe_dump(d) for d in docs)
        proc = plane.kubectl("apply", "-f", "-", input=reversed_stream, check=False)
        assert proc.returncode != 0
        assert 'namespaces "mentat-reversed" not found' in proc.stderr
