"""The inventory as pure functions: new, add a change set, diff gives the prune set."""

from __future__ import annotations

import pytest

from compiler.controller import inventory as inv
from compiler.controller.inventory import Ref


def _ref(kind: str, name: str, ns: str = "app", group: str = "apps", version: str = "v1") -> Ref:
    return Ref(group, kind, ns, name, version)


def test_new_sorts_and_deduplicates_by_identity() -> None:
    a, b = _ref("Deployment", "b"), _ref("Deployment", "a")
    got = inv.new("ws.staging.eu", [a, b, a])
    assert got.refs == (b, a)
    assert len(got) == 2


def test_identity_ignores_the_api_version_and_keeps_the_newest() -> None:
    old = _ref("Deployment", "web", version="v1beta1")
    newer = _ref("Deployment", "web", version="v1")
    got = inv.add(inv.new("i", [old]), [newer])
    assert got.refs == (newer,)
    assert inv.diff(inv.new("i", [old]), inv.new("i", [newer])) == ()


def test_add_is_a_union_and_diff_is_the_prune_set() -> None:
    web, db = _ref("Deployment", "web"), _ref("StatefulSet", "db")
    cm = Ref("", "ConfigMap", "app", "cfg", "v1")
    old = inv.new("i", [web, db])
    staged = inv.add(old, [web, cm])
    assert staged.keys() == {web.key, db.key, cm.key}
    assert inv.diff(staged, inv.new("i", [web, cm])) == (db,)
    assert inv.diff(inv.new("i"), staged) == ()


def test_record_round_trip_and_refusals() -> None:
    one = inv.new("i", [_ref("Deployment", "web"), Ref("", "Namespace", "", "app", "v1")])
    assert inv.from_data(inv.to_data(one), "i") == one
    assert inv.from_data(None, "i") == inv.new("i")
    with pytest.raises(inv.InventoryError, match="does not belong"):
        inv.from_data(inv.to_data(one), "other")
    with pytest.raises(inv.InventoryError, match="not JSON"):
        inv.from_data({inv.INVENTORY_KEY: "{"}, "i")
    with pytest.raises(inv.InventoryError, match="malformed"):
        inv.from_data({inv.INVENTORY_KEY: '{"id": "i", "objects": [["a"]]}'}, "i")


def test_ref_of_and_display() -> None:
    meta = {"name": "w", "namespace": "n"}
    ref = inv.ref_of({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta})
    assert ref == Ref("apps", "Deployment", "n", "w", "v1")
    assert str(ref) == "Deployment.apps n/w"
    ns = inv.ref_of({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})
    assert str(ns) == "Namespace n"


def test_inventory_id_is_a_label_value() -> None:
    assert inv.inventory_id("Demo", "staging", "eu-west-1") == "demo.staging.eu-west-1"
    long = inv.inventory_id("w" * 80, "prod", "us-east-1")
    assert len(long) <= 63 and long.startswith("prod.us-east-1.")
    assert long == inv.inventory_id("w" * 80, "prod", "us-east-1")
