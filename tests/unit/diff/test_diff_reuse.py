"""What a diff reuses instead of compiling, and when it must not: the head's output tree in a
clean working tree that is the head commit, and commits kept under `.mentat/diff/` with their
compiled output. Every report is compared with one compiled from scratch (`--no-cache`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.diff.kept import KEEP
from tests.unit.diff.diffkit import FLOW, WORKSPACE, GitWorkspace
from tests.unit.policy.policykit import team_rule


def _compile(ws: GitWorkspace) -> None:
    out = CliRunner().invoke(main, ["compile", str(ws.root)], catch_exceptions=False)
    assert out.exit_code == 0, out.output


def _scaled(tmp_path: Path) -> tuple[GitWorkspace, str]:
    """A workspace whose head scales one node, compiled; and its base commit."""
    ws = GitWorkspace(tmp_path)
    base = ws.git("rev-parse", "HEAD")
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 3}")
    ws.commit("3")
    _compile(ws)
    return ws, base


def _kept(ws: GitWorkspace) -> set[str]:
    store = ws.root / ".mentat" / "diff"
    return {p.name for p in store.iterdir() if not p.name.startswith(".")} if store.is_dir() \
        else set()


def _same_as_scratch(ws: GitWorkspace, *args: str) -> str:
    """The report (every format) equals the one of a diff compiled from scratch."""
    for fmt in ("json", "markdown", "text"):
        warm = ws.run(*args, "-o", fmt)
        cold = ws.run(*args, "-o", fmt, "--no-cache")
        assert warm.exit_code == 0 == cold.exit_code, warm.output + cold.output
        assert warm.stdout == cold.stdout, fmt
    return ws.run(*args, "-o", "json").stdout


@pytest.mark.parametrize("prefix", ["platform", ""])  # a monorepo's directory, or the top
def test_clean_head_is_read_from_its_compiled_output(tmp_path: Path, prefix: str) -> None:
    ws = GitWorkspace(tmp_path, prefix)
    ws.write("mentat.yaml", WORKSPACE + "  policies: [team-policies/]\n")
    ws.write("team-policies/r.yaml", team_rule(
        "three-replicas", "[Deployment]", "object.spec.replicas >= 3", severity="warning"))
    base = ws.commit("a warning rule: prod runs 2 replicas of each node")
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 3}")
    head = ws.commit("sum to 3 in prod")
    _compile(ws)  # as CI's `compile --check` and an author before pushing
    doc = json.loads(_same_as_scratch(ws, "--base", base))
    assert {f["rule"] for f in doc["policy"]["fixed"]} == {"three-replicas"}  # from the trees
    assert head not in _kept(ws)  # the working tree was the head: nothing extracted
    assert base in _kept(ws)
    assert (ws.root / ".mentat/diff" / base / "out/index.json").is_file()


def test_compiled_uncommitted_edit_is_not_the_head(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 4}")
    head = ws.commit("scale")
    ws.replace("flows/flow.yaml", "sum: {replicas: 4}", "sum: {replicas: 5}")  # uncommitted
    _compile(ws)  # the output tree is the edit's now
    doc = _same_as_scratch(ws, "--base", "main~1")
    assert "+  replicas: 4" in doc and "replicas: 5" not in doc
    assert head in _kept(ws)  # compiled from git, not from the working tree


def test_file_git_ignores_is_not_the_commit(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.write(".gitignore", ".mentat/\nflows/local.yaml\n")
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 3}")
    head = ws.commit("scale, and ignore a local flow")
    ws.write("flows/local.yaml", FLOW.replace("name: digest", "name: local-only"))
    assert ws.git("status", "--porcelain") == ""  # clean, as git sees it
    _compile(ws)  # the compile reads the ignored flow
    doc = _same_as_scratch(ws, "--base", "main~1")
    assert "local-only" not in doc
    assert head in _kept(ws)


def test_kept_base_is_reused_and_follows_its_ref(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    first = ws.git("rev-parse", "HEAD")
    ws.git("branch", "base")
    ws.replace("flows/flow.yaml", "sum: {replicas: 2}", "sum: {replicas: 3}")
    second = ws.commit("3")
    _compile(ws)
    report = _same_as_scratch(ws, "--base", "base")
    out = ws.root / ".mentat/diff" / first / "out/index.json"
    stamp = out.stat().st_mtime_ns
    assert _same_as_scratch(ws, "--base", "base") == report
    assert out.stat().st_mtime_ns == stamp  # replayed, not written again
    ws.git("branch", "-f", "base", second)  # the base moves on
    ws.replace("flows/flow.yaml", "sum: {replicas: 3}", "sum: {replicas: 4}")
    ws.commit("4")
    _compile(ws)
    moved = _same_as_scratch(ws, "--base", "base")
    assert "-  replicas: 3" in moved and "+  replicas: 4" in moved
    assert {first, second} <= _kept(ws)


def test_tampered_kept_commit_is_not_trusted(tmp_path: Path) -> None:
    ws, base = _scaled(tmp_path)
    report = _same_as_scratch(ws, "--base", "main~1")
    kept = ws.root / ".mentat/diff" / base
    # the kept files: the diff compiles the commit again from git
    flow = kept / "src/platform/flows/flow.yaml"
    flow.write_text(flow.read_text().replace("sum: {replicas: 2}", "sum: {replicas: 9}"))
    assert _same_as_scratch(ws, "--base", "main~1") == report
    # the kept output tree: an object whose bytes no longer match the record
    obj = next((kept / "out").rglob("deployment-*.yaml"))
    obj.write_text(obj.read_text().replace("replicas: 2", "replicas: 9"))
    assert _same_as_scratch(ws, "--base", "main~1") == report
    extra = kept / "src/platform/flows/extra.yaml"  # a file the commit does not have
    extra.write_text(FLOW.replace("name: digest", "name: planted"))
    assert _same_as_scratch(ws, "--base", "main~1") == report


def test_least_recently_used_commits_are_deleted(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    for n in range(3, 3 + KEEP + 1):
        ws.replace("flows/flow.yaml", f"sum: {{replicas: {n - 1}}}", f"sum: {{replicas: {n}}}")
        ws.commit(str(n))
    _compile(ws)
    for back in range(1, KEEP + 2):
        assert ws.run("--base", f"main~{back}", "-o", "json").exit_code == 0
    kept = _kept(ws)
    assert len(kept) == KEEP
    assert ws.git("rev-parse", f"main~{KEEP + 1}") in kept  # the last used stays
    assert ws.git("rev-parse", "main~1") not in kept  # the least recently used went


def test_output_is_kept_from_a_commits_second_diff(tmp_path: Path) -> None:
    ws, base = _scaled(tmp_path)
    kept = ws.root / ".mentat/diff" / base
    first = ws.run("--base", "main~1", "-o", "json").stdout
    assert (kept / "src/platform/mentat.yaml").is_file()
    assert not (kept / "out").exists()  # once may be all (a CI job): no tree written
    assert ws.run("--base", "main~1", "-o", "json").stdout == first
    assert (kept / "out/index.json").is_file()
    assert ws.run("--base", "main~1", "-o", "json").stdout == first  # replayed


def test_waived_findings_are_compiled_not_read(tmp_path: Path) -> None:
    """policy-report.json tallies waived findings without their messages: a side with any is
    compiled (the base here), one without is read (the head), and the report is the same."""
    ws = GitWorkspace(tmp_path)
    ws.write("mentat.yaml", WORKSPACE + "  policies: [team-policies/]\n")
    ws.write("team-policies/r.yaml", team_rule(
        "three-replicas", "[Deployment]", "object.spec.replicas >= 3", severity="warning"))
    waived = ("labels: {owner: test-team},\n  annotations: "
              "{mentatlab.io/waive-three-replicas: \"two are enough here\"}")
    ws.replace("flows/flow.yaml", "labels: {owner: test-team}", waived)
    base = ws.commit("a warning rule, waived")
    ws.replace("flows/flow.yaml", waived, "labels: {owner: test-team}")
    ws.commit("the waiver goes")
    _compile(ws)
    for _ in range(3):  # the third replays the kept base: its report still does not say all
        doc = json.loads(_same_as_scratch(ws, "--base", base))
    assert {f["status"] for f in doc["policy"]["new"]} == {"fail"}
    assert {f["status"] for f in doc["policy"]["fixed"]} == {"waived"}


def test_planted_symlinks_are_not_followed(tmp_path: Path) -> None:
    """`.mentat/` may come from a restored CI cache: a kept-commits directory or a kept
    commit that is a symlink is neither read, written nor emptied through."""
    ws, base = _scaled(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    for n in range(KEEP + 2):
        (elsewhere / f"precious-{n}").mkdir(parents=True)
    store = ws.root / ".mentat/diff"
    store.symlink_to(elsewhere)
    report = _same_as_scratch(ws, "--base", "main~1")
    assert sorted(p.name for p in elsewhere.iterdir()) == [f"precious-{n}"
                                                           for n in range(KEEP + 2)]
    store.unlink()
    store.mkdir()
    (store / base).symlink_to(elsewhere / "precious-0")
    assert _same_as_scratch(ws, "--base", "main~1") == report
    assert not (store / base).is_symlink() and (store / base / "src").is_dir()
    assert list((elsewhere / "precious-0").iterdir()) == []
