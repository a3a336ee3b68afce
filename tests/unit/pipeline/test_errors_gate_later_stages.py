"""Stages after link need a model without errors: a link error ends the pipeline before wasm,
render and check, while policy still loads its rules (their own errors are reported in the
same run). Policy findings, by contrast, never stop the later stages: one compile reports
every finding and every render problem."""

from __future__ import annotations

from compiler.pipeline import compile_workspace
from tests.conftest import UNLINKED_FLOW


def test_a_link_error_stops_before_render(make_ws) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    result = compile_workspace(make_ws(flow=UNLINKED_FLOW), on_stage=seen.append)
    assert not result.ok and any(d.code.startswith("M3") for d in result.diagnostics)
    assert seen == ["load", "validate", "link", "policy"]
    assert result.rendered is None and not result.files


def test_policy_findings_do_not_stop_the_later_stages(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import AGENTS, DIGEST

    agents = AGENTS.replace(f"fetcher@sha256:{DIGEST}", "fetcher:latest", 1)  # not pinned
    seen: list[str] = []
    result = compile_workspace(make_ws(agents=agents), on_stage=seen.append)
    assert any(d.code == "M400" for d in result.diagnostics), result.diagnostics
    assert seen[-1] == "layout" and result.rendered is not None
    assert not result.ok and not result.files  # a finding fails the compile all the same
