"""What the client asks of the real apiserver to keep a first apply cheap: server-side apply
answered as metadata alone, and discovery kept across a CRD change except for the kinds the
CRD defines (a kind it stopped serving is then unknown, not a stale path)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from compiler.controller.client import UnknownKindError, connect
from compiler.controller.inventory import Ref
from tests.controller.kit import Kit, configmap, crd, namespace

pytestmark = pytest.mark.cluster


def _served(cluster: Any, api_version: str, kind: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster.kind(api_version, kind)
            return
        except UnknownKindError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_apply_answered_as_metadata_only(kit: Kit) -> None:
    cluster = connect(kit.kubeconfig)
    cluster.apply(namespace(kit.ns), metadata_only=True)
    got = cluster.apply(configmap(kit.ns, "small", {"k": "v"}), metadata_only=True)
    assert got["kind"] == "PartialObjectMetadata"
    assert "data" not in got
    live = cluster.get(Ref("", "ConfigMap", kit.ns, "small", "v1"))
    assert live is not None and live["data"] == {"k": "v"}
    assert got["metadata"]["uid"] == live["metadata"]["uid"]
    assert got["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]
    full = cluster.apply(configmap(kit.ns, "small", {"k": "w"}))
    assert full["kind"] == "ConfigMap" and full["data"] == {"k": "w"}


def test_forget_kinds_drops_only_the_crds_kinds(kit: Kit) -> None:
    group = f"{kit.ns}.example.com"
    cluster = connect(kit.kubeconfig)
    try:
        cluster.apply(crd(group, "Gadget", {"v1": True, "v2": True}))
        _served(cluster, f"{group}/v2", "Gadget")
        cm = cluster.kind("v1", "ConfigMap")
        # v2 is no longer served: a Gadget v2 looked up before is stale once forgotten
        cluster.apply(crd(group, "Gadget", {"v1": True, "v2": False}), force=True)
        deadline = time.monotonic() + 30
        while True:  # until the apiserver drops the version from discovery
            cluster.forget_kinds([("apps", "Deployment"), (group, "Gadget")])
            try:
                cluster.kind(f"{group}/v2", "Gadget")
            except UnknownKindError:
                break
            assert time.monotonic() < deadline, "Gadget v2 still discovered after 30 s"
            time.sleep(0.2)
        assert cluster.kind(f"{group}/v1", "Gadget").plural == "gadgets"
        assert cluster.kind("v1", "ConfigMap") is cm  # kept: not a kind the CRD defines
    finally:
        kit.kubectl("delete", "crd", f"gadgets.{group}", "--ignore-not-found", "--wait=false")
