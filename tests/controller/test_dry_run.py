"""--dry-run: the plan comes from server-side dry-run and nothing changes; an object the
server would refuse fails the dry run."""

from __future__ import annotations

from tests.controller.kit import Kit, configmap, deployment, namespace


def test_dry_run_plans_with_the_server_and_changes_nothing(kit: Kit) -> None:
    ns = kit.ns
    assert kit.apply(kit.tree([namespace(ns), configmap(ns, "a", {"k": "1"}), configmap(ns, "gone")]))[0] == 0
    before = kit.get("cm", "a")["metadata"]["resourceVersion"]
    changed = kit.tree([namespace(ns), configmap(ns, "a", {"k": "2"}), configmap(ns, "new")])
    code, out, err = kit.apply(changed, "--dry-run")
    assert code == 0, err
    assert out["result"] == "planned"
    assert [s["name"] for s in out["steps"]] == ["verify", "plan"]
    changes = {(c["op"], c["name"]) for c in out["plan"]["changes"]}
    assert changes == {("update", "a"), ("create", "new"), ("delete", "gone")}
    [update] = [c for c in out["plan"]["changes"] if c["op"] == "update"]
    assert {"path": "data.k", "before": "1", "after": "2"} in update["fields"]
    assert kit.get("cm", "a")["metadata"]["resourceVersion"] == before
    assert kit.get("cm", "new") is None and kit.get("cm", "gone") is not None


def test_dry_run_reports_what_the_server_refuses(kit: Kit) -> None:
    assert kit.apply(kit.tree([namespace(kit.ns)]))[0] == 0
    bad = deployment(kit.ns, "bad")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}  # does not match its template
    code, out, _ = kit.apply(kit.tree([namespace(kit.ns), bad]), "--dry-run")
    assert code == 1 and out["result"] == "failed"
    assert any("Deployment.apps" in p and "selector" in p for p in out["problems"])
    assert kit.get("deploy", "bad") is None
