from __future__ import annotations

from pathlib import Path

from compiler.load import find_workspace_root, load


def test_finds_the_workspace_root_upwards(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    assert find_workspace_root(root / "flows") == root.resolve()
    assert find_workspace_root(Path("/")) is None


def test_mentat_yaml_must_hold_exactly_one_workspace(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws(workspace="apiVersion: mentatlab.io/v1\nkind: Workspace\nmetadata: {name: a}\n"
                   "spec: {}\n---\napiVersion: mentatlab.io/v1\nkind: Agent\n")
    result = load(root)
    assert [d.code for d in result.diagnostics] == ["M108"]
    assert result.workspace is None


def test_sources_are_sorted_and_output_and_hidden_dirs_skipped(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws({"flows/z/late.yaml": "", "flows/.hidden/x.yaml": "a: [",
                    "flows/notes.txt": "not yaml"})
    result = load(root)
    assert not result.diagnostics
    assert list(result.digests) == ["mentat.yaml", "flows/agents.yaml", "flows/flow.yaml",
                                    "flows/z/late.yaml"]


def test_the_output_tree_is_never_read_as_sources(make_ws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from compiler.cli import main
    from tests.conftest import WORKSPACE

    root = make_ws(workspace=WORKSPACE.replace("sources: [flows/]", "sources: [.]"))
    monkeypatch.chdir(root)
    for out in ("./rendered", str(root / "rendered"), "rendered/"):
        for _ in range(2):  # the second compile would see the first one's output
            result = CliRunner().invoke(main, ["compile", ".", "--out", out])
            assert result.exit_code == 0, result.output


def test_an_output_reached_through_a_symlink_is_not_read_as_sources(make_ws) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from compiler.cli import main
    from tests.conftest import WORKSPACE

    root = make_ws(workspace=WORKSPACE.replace("sources: [flows/]", "sources: [.]"))
    (root / "gen").mkdir()
    (root / "rendered").symlink_to("gen")  # the walk enters it by the link's name
    for _ in range(2):
        result = CliRunner().invoke(main, ["compile", str(root), "--no-cache"])
        assert result.exit_code == 0, result.output
    assert not [rel for rel in load(root).digests if rel.startswith(("gen/", "rendered/"))]


def test_load_uses_what_input_digests_read_and_digests_those_bytes(make_ws) -> None:  # type: ignore[no-untyped-def]
    from compiler.load import input_digests

    root = make_ws()
    found = input_digests(root, None, [])
    assert found is not None
    digests, _, discovered = found
    (root / "flows" / "flow.yaml").write_text("kind: [\n")  # changed after the check
    result = load(root, discovered=discovered)
    assert not result.diagnostics and result.digests == digests
    assert load(root).diagnostics  # without it, the file is read again
