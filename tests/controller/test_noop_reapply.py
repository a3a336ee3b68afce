"""A re-apply of an unchanged tree changes nothing (no write at all) and reads no manifest it
applied before; a field someone changed live (`kubectl patch`, `kubectl edit`: an Update by
another field manager) is found, shown in the plan with who changed it, and taken back
without --force-conflicts, as Flux does."""

from __future__ import annotations

import json
import subprocess

from tests.controller.kit import Kit, configmap, deployment, namespace


def test_noop_reapply_writes_nothing(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a"), deployment(kit.ns, "web")])
    assert kit.apply(tree)[0] == 0
    before = {n: kit.get(k, n)["metadata"]["resourceVersion"] for k, n in (("cm", "a"), ("deploy", "web"))}
    code, out, err = kit.apply(tree)
    assert code == 0, err
    assert out["plan"]["counts"] == {"create": 0, "update": 0, "delete": 0, "noop": 3}
    assert out["plan"]["changes"] == []
    after = {n: kit.get(k, n)["metadata"]["resourceVersion"] for k, n in (("cm", "a"), ("deploy", "web"))}
    assert after == before


def test_a_field_changed_live_is_found_and_restored(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), configmap(kit.ns, "a", {"k": "v"}), configmap(kit.ns, "b")])
    assert kit.apply(tree)[0] == 0
    code, out, _ = kit.apply(tree)
    assert code == 0 and out["files"] == {"manifests": 3, "read": 0, "skipped": 3}
    patch = json.dumps({"data": {"k": "x"}})
    kit.kubectl("patch", "configmap", "a", "-n", kit.ns, "--type", "merge", "-p", patch)
    code, out, err = kit.apply(tree)
    assert code == 0, err
    [change] = out["plan"]["changes"]
    assert change["op"] == "update" and change["fields"] == [{"path": "data.k", "before": "x", "after": "v"}]
    assert change["owners"] == [{"path": "data.k", "manager": "kubectl-patch", "operation": "Update"}]
    assert out["restored"] == [f"ConfigMap {kit.ns}/a: .data.k: changed live by kubectl-patch"]
    assert out["files"]["read"] == 1  # only the file of the object someone wrote to
    assert kit.get("cm", "a")["data"] == {"k": "v"}
    shown = kit.kubectl("get", "cm", "a", "-n", kit.ns, "-o", "json", "--show-managed-fields")
    live = json.loads(shown.stdout)
    owners = {m["manager"]: m["operation"] for m in live["metadata"]["managedFields"]
              if "f:k" in (m.get("fieldsV1") or {}).get("f:data", {})}
    assert owners == {"mentatctl": "Apply"}  # the field is ours again
    code, out, _ = kit.apply(tree)
    assert code == 0 and out["plan"]["counts"]["noop"] == 3 and out["files"]["read"] == 0


def test_a_field_edited_live_is_restored_in_text_output(kit: Kit) -> None:
    tree = kit.tree([namespace(kit.ns), deployment(kit.ns, "web", replicas=1)])
    assert kit.apply(tree, "--no-wait")[0] == 0
    kit.kubectl("scale", "deployment", "web", "-n", kit.ns, "--replicas", "3")
    cmd = kit.command(tree, "--no-wait")
    cmd[cmd.index("-o") + 1] = "text"
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=kit.tmp, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    assert "~ spec.replicas: 3 -> 1  [changed live by kubectl" in done.stdout
    restored = f"drift taken back: Deployment.apps {kit.ns}/web: .spec.replicas: changed live by kubectl"
    assert restored in done.stdout
    assert kit.get("deploy", "web")["spec"]["replicas"] == 1
