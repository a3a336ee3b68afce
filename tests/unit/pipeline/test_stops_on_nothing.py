"""A stage that returns nothing ends the pipeline: a workspace document that does not validate
gives link nothing to link, and no later stage runs (nor announces itself)."""

from __future__ import annotations

from compiler.pipeline import compile_workspace


def test_a_workspace_that_does_not_validate_ends_before_link(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws(workspace="apiVersion: mentatlab.io/v1\nkind: Workspace\nmetadata: {name: x}\n"
                             "spec: {sources: 3}\n")
    seen: list[str] = []
    result = compile_workspace(root, on_stage=seen.append)
    assert seen == ["load", "validate", "link"]
    assert not result.ok and result.workspace is None and result.rendered is None
