"""The snapshot of what the last reconcile applied (.mentat/applied/) only ever skips work:
it is used only when the inventory record names its sha256 (an edited or restored snapshot
cannot hide a changed manifest), even a trusted one that forgets objects never prunes them,
one for another API server is not used, and an object deleted or relabelled live since is
found and applied again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.controller.kit import Kit, configmap, namespace


def _snapshot(kit: Kit) -> Path:
    [path] = (kit.tmp / ".mentat" / "applied").glob("*.json")
    return path


def _vouch(kit: Kit, inventory: str, path: Path) -> None:
    """Make the inventory record name the snapshot as it now is (what only a cluster writer can)."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    kit.kubectl("annotate", "configmap", f"mentat-inventory-{inventory}", "-n", "mentat-system",
                f"mentatlab.io/snapshot-sha256={sha}", "--overwrite")


def test_an_edited_snapshot_cannot_hide_a_changed_manifest(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a", {"k": "v1"})])
    assert kit.apply(tree)[0] == 0
    path = _snapshot(kit)
    before = json.loads(path.read_text())
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a", {"k": "v2"})])
    index = {f["path"]: f["sha256"] for f in json.loads((tree / "index.json").read_text())["files"]}
    before["files"] = {rel: [index[rel], rows] for rel, (_, rows) in before["files"].items()}  # "unchanged"
    path.write_text(json.dumps(before))
    code, out, err = kit.apply(tree)
    assert code == 0, err
    assert out["files"]["read"] == 2 and [c["name"] for c in out["plan"]["changes"]] == ["a"]
    assert kit.get("cm", "a")["data"] == {"k": "v2"}


def test_a_snapshot_that_forgets_objects_never_prunes_them(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a"), configmap(kit.ns, "b")])
    code, out, _ = kit.apply(tree)
    assert code == 0
    path = _snapshot(kit)
    data = json.loads(path.read_text())
    data["files"] = {rel: [sha, []] for rel, (sha, _) in data["files"].items()}  # "these files hold nothing"
    path.write_text(json.dumps(data))
    _vouch(kit, out["inventory"], path)  # even a snapshot the cluster vouches for
    code, out, err = kit.apply(tree)
    assert code == 0, err
    assert out["plan"]["counts"] == {"create": 0, "update": 0, "delete": 0, "noop": 3}
    assert out["files"]["read"] == 3  # a prune is never decided on the snapshot's word
    assert kit.get("cm", "b") is not None


def test_a_snapshot_of_another_api_server_is_not_used(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a")])
    assert kit.apply(tree)[0] == 0
    path = _snapshot(kit)
    data = json.loads(path.read_text())
    data["server"] = "https://elsewhere.example:6443"
    path.write_text(json.dumps(data))
    code, out, _ = kit.apply(tree)
    assert code == 0 and out["files"]["read"] == 2 and out["plan"]["counts"]["noop"] == 2


def test_objects_deleted_or_unlabelled_live_are_applied_again(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a"), configmap(kit.ns, "b")])
    assert kit.apply(tree)[0] == 0
    kit.kubectl("delete", "configmap", "a", "-n", kit.ns)
    kit.kubectl("label", "configmap", "b", "-n", kit.ns, "mentatlab.io/inventory-")
    code, out, err = kit.apply(tree)
    assert code == 0, err
    ops = {c["name"]: c["op"] for c in out["plan"]["changes"]}
    assert ops == {"a": "create", "b": "update"}
    assert kit.get("cm", "a") is not None
    assert kit.get("cm", "b")["metadata"]["labels"]["mentatlab.io/inventory"] == out["inventory"]
