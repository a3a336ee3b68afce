"""A workspace that leaves its extensions out gets their defaults: the target Kubernetes
version, no own policies, and no storage, telemetry or pricing."""

from __future__ import annotations

from compiler.check import DEFAULT_VERSION
from compiler.model import DEFAULT_KUBERNETES_VERSION
from tests.unit.model.conftest import WorkspaceOf


def test_extensions_left_out_take_their_defaults(workspace_of: WorkspaceOf) -> None:
    spec = workspace_of("")
    assert spec.kubernetes_version == DEFAULT_KUBERNETES_VERSION == DEFAULT_VERSION == "1.31"
    assert spec.policies == ()
    assert (spec.storage, spec.telemetry, spec.pricing) == (None, None, None)
    assert (spec.output, spec.registries) == ("rendered/", ())
