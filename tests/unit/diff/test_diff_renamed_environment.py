"""A renamed environment: the old leaf's objects are removed and the new leaf's added (one
target each), and the other environments are untouched."""

from __future__ import annotations

from pathlib import Path

from tests.unit.diff.diffkit import GitWorkspace, changes


def test_renamed_environment_moves_its_leaf(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.replace("mentat.yaml", "{name: staging, namespace: mentat-staging",
               "{name: qa, namespace: mentat-staging")
    ws.commit("staging is now qa")
    doc = ws.json("main~1")
    removed, added = changes(doc, "removed"), changes(doc, "added")
    assert removed and {t for t, _, _ in removed} == {"staging/eu-west-1"}
    assert {t for t, _, _ in added} == {"qa/eu-west-1"}
    assert sorted((k, n) for _, k, n in removed) == sorted((k, n) for _, k, n in added)
    assert not any(t.startswith("prod/") for t, _, _ in changes(doc, "changed"))
    targets = {t["target"]: t for t in doc["targets"]}
    assert targets["staging/eu-west-1"]["removed"] == len(removed)
    assert doc["base"]["treeDigest"] != doc["head"]["treeDigest"]
