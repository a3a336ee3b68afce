"""Rendered-phase policy outcomes are remembered per flow × environment × region: a warm
compile reports exactly what a cold one does, and re-evaluates only what changed."""

from __future__ import annotations

from pathlib import Path

from compiler.cache import Cache
from compiler.pipeline import compile_workspace


def compile_with_cache(root: Path) -> tuple[list[tuple[str, int, str, str]], Cache]:
    cache = Cache(root)
    result = compile_workspace(root, memos=cache.memos)
    cache.save(result.workspace.source_digests if result.workspace else {})
    return sorted((d.file, d.line, d.code, d.message) for d in result.diagnostics), cache


def test_warm_policy_outcomes_equal_cold_ones(make_ws) -> None:  # type: ignore[no-untyped-def]
    # one replica in prod breaks the default prod-replicas rule on the rendered Deployments
    root = make_ws()
    flow = root / "flows" / "flow.yaml"
    flow.write_text(flow.read_text().replace("replicas: 2", "replicas: 1"))
    cold = sorted((d.file, d.line, d.code, d.message) for d in compile_workspace(root).diagnostics)
    assert any(code == "M400" and "prod-replicas" in msg for _, _, code, msg in cold)
    first, cache = compile_with_cache(root)
    assert first == cold and cache.stats.misses.get("policy")
    second, cache = compile_with_cache(root)
    assert second == cold
    assert cache.stats.hits.get("policy") and not cache.stats.misses.get("policy")


def test_a_changed_flow_is_evaluated_again(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    _, _ = compile_with_cache(root)
    flow = root / "flows" / "flow.yaml"
    flow.write_text(flow.read_text().replace("replicas: 2", "replicas: 1"))
    diags, cache = compile_with_cache(root)
    assert any(code == "M400" for _, _, code, _ in diags)
    assert cache.stats.misses.get("policy")


def test_a_no_change_compile_reads_no_cached_object_bytes(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    compile_with_cache(root)
    cache = Cache(root)
    result = compile_workspace(root, memos=cache.memos)
    assert result.ok and result.rendered is not None
    cached = [o for o in result.rendered.objects if type(o).__name__ == "CachedObject"]
    assert cached and cache.stats.hits.get("policy")
    # neither their YAML nor their dicts were read: policy counted them from the memo
    assert not any(o.blobs._entries for o in cached)  # type: ignore[attr-defined]


def test_cost_json_is_reused_until_a_source_changes(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import WORKSPACE

    ws = WORKSPACE + "  pricing: {cpuHour: 0.031, memoryGiBHour: 0.004, gpuHour: 2.5}\n"
    root = make_ws(workspace=ws)
    first = compile_workspace(root).files["cost.json"]
    compile_with_cache(root)
    cache = Cache(root)
    assert compile_workspace(root, memos=cache.memos).files["cost.json"] == first
    # the one flow's cost lines (and each policy rule file's checked programs) reused
    assert cache.stats.hits.get("memo") and "memo" not in cache.stats.misses
    flow = root / "flows" / "flow.yaml"
    flow.write_text(flow.read_text().replace("replicas: 2", "replicas: 3"))
    cache = Cache(root)
    changed = compile_workspace(root, memos=cache.memos).files["cost.json"]
    assert changed != first and cache.stats.misses.get("memo") == 1
    assert changed == compile_workspace(root).files["cost.json"]


def test_tallies_and_waivers_from_the_memo_equal_cold_ones(make_ws) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.policy.policykit import waived_workspace

    root = waived_workspace(make_ws)
    cold = compile_workspace(root)
    compile_with_cache(root)
    cache = Cache(root)
    warm = compile_workspace(root, memos=cache.memos)
    assert warm.files["policy-report.json"] == cold.files["policy-report.json"]
    assert warm.policy.waivers == cold.policy.waivers and warm.policy.waivers
    # objects of the flow carry the waiver and are looked up one by one; the namespaces
    # and collectors of each target are only counted
    assert cache.stats.hits.get("policy") and warm.policy.passed == cold.policy.passed
    assert {f.status for f in warm.policy.findings} == {"fail"}  # the waived ones
