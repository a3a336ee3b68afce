"""A compile whose inputs and output tree are unchanged is replayed, not run: the same report,
no pipeline. Any change to what the compile read, found or wrote runs it again."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from compiler.cache import CACHE_DIR
from compiler.cache import store as cache_mod
from compiler.cli import main
from compiler.tasks import compile as tasks_compile
from tests.conftest import REPO
from tests.unit.policy.policykit import team_rule
from tests.unit.write.treekit import tree_of

WARN = team_rule("prefer-gpu", "[Agent]", "has(object.spec.resources.gpu)", "warning")
WAIVED = "mentatlab.io/waive-prefer-gpu: \"CPU is fast enough\"\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """The example workspace plus a team policy that warns and a waiver it reports."""
    root = tmp_path / "ws"
    shutil.copytree(REPO / "flows", root / "flows")
    text = (REPO / "mentat.yaml").read_text().replace(
        "  sources: [flows/]\n", "  sources: [flows/]\n  policies: [team-policies/]\n")
    (root / "mentat.yaml").write_text(text)
    (root / "team-policies").mkdir()
    (root / "team-policies" / "gpu.yaml").write_text(WARN)
    agent = root / "flows" / "agents" / "news.yaml"
    first = agent.read_text().split("\n---\n")
    assert "metadata:\n" in first[0]
    first[0] = first[0].replace("metadata:\n", "metadata:\n  annotations:\n    " + WAIVED, 1)
    agent.write_text("\n---\n".join(first))
    return root


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The workspaces the pipeline really compiled."""
    calls: list[Path] = []
    real = tasks_compile.compile_workspace

    def spy(root: Path, *args: Any, **kwargs: Any) -> Any:
        calls.append(root)
        return real(root, *args, **kwargs)

    monkeypatch.setattr(tasks_compile, "compile_workspace", spy)
    return calls


def _compile(ws: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["compile", str(ws), *args])


def test_an_unchanged_workspace_is_replayed_with_the_same_report(ws: Path,
                                                                 runs: list[Path]) -> None:
    first, first_json = _compile(ws), _compile(ws, "--format", "json", "--no-cache")
    assert first.exit_code == 0 and len(runs) == 2
    assert "warning[M400]" in first.stderr and "waived prefer-gpu" in first.stderr
    tree = tree_of(ws / "rendered")
    for fmt in ("text", "json", "github"):
        full = _compile(ws, "--format", fmt, "--no-cache")
        again = _compile(ws, "--format", fmt)
        assert again.exit_code == full.exit_code == 0
        assert (again.stdout, again.stderr) == (full.stdout, full.stderr)
    assert len(runs) == 2 + 3  # only the --no-cache ones ran the pipeline
    payload = json.loads(first_json.stdout)
    assert payload["waivers"] and payload["diagnostics"]
    check = _compile(ws, "--check")
    assert check.exit_code == 0 and "is up to date" in check.stderr and len(runs) == 5
    assert tree_of(ws / "rendered") == tree


def _edit(path: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def do(ws: Path) -> None:
        (ws / path).write_text(change((ws / path).read_text()))
    return do


def _add(path: str, text: str) -> Callable[[Path], None]:
    def do(ws: Path) -> None:
        (ws / path).write_text(text)
    return do


def _touch_output(ws: Path) -> None:
    victim = sorted((ws / "rendered").rglob("deployment-*.yaml"))[0]
    victim.write_bytes(victim.read_bytes().replace(b"replicas:", b"replicas: 9\n#", 1))


CHANGES: dict[str, Callable[[Path], None]] = {
    "a source edited": _edit("flows/agents/news.yaml", lambda t: t.replace("100m", "150m", 1)),
    "a source added": _add("flows/agents/extra.yaml", (REPO / "flows/agents/news.yaml")
                           .read_text().replace("name: ", "name: x", 1).split("\n---\n")[0]),
    "a source removed": lambda ws: (ws / "flows/flows/photo-tagging.yaml").unlink(),
    "a rule file added": _add("team-policies/more.yaml", team_rule(
        "more", "[Flow]", "true", "warning")),
    "a rule file edited": _edit("team-policies/gpu.yaml", lambda t: t.replace("says no",
                                                                              "says no!")),
    "a wasm module edited": _edit("flows/wasm/greeter.wat", lambda t: t + "\n;; edited\n"),
    "the workspace edited": _edit("mentat.yaml", lambda t: t.replace("ratio: 0.1",
                                                                     "ratio: 0.2")),
    "an output file edited": _touch_output,
    "the output removed": lambda ws: shutil.rmtree(ws / "rendered"),
}


def test_a_file_added_to_the_output_is_not_replayed_and_not_lost(ws: Path,
                                                                  runs: list[Path]) -> None:
    """A file mentatctl did not write stops the compile (the tree is not its to replace)
    instead of being replayed over or deleted; once moved away, the compile goes on."""
    assert _compile(ws).exit_code == 0
    (ws / "rendered" / "stray.yaml").write_text("kind: Stray\n")
    result = _compile(ws)
    assert result.exit_code == 1 and len(runs) == 2
    assert "error[M701]" in result.stderr and "stray.yaml" in result.stderr
    assert (ws / "rendered" / "stray.yaml").read_text() == "kind: Stray\n"
    assert not list((ws / ".mentat").rglob("stray.yaml"))  # not parked in the standby
    (ws / "rendered" / "stray.yaml").unlink()
    assert _compile(ws).exit_code == 0


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_change_compiles_again(ws: Path, runs: list[Path], tmp_path: Path,
                                   change: str) -> None:
    assert _compile(ws).exit_code == 0
    CHANGES[change](ws)
    result = _compile(ws)
    assert result.exit_code == 0, result.output
    assert len(runs) == 2, f"{change}: the compile was replayed"
    cold = tmp_path / "cold"
    assert _compile(ws, "--no-cache", "--out", str(cold)).exit_code == 0
    assert tree_of(ws / "rendered") == tree_of(cold)
    assert _compile(ws).exit_code == 0 and len(runs) == 3  # then replayed again


def test_another_compiler_does_not_replay(ws: Path, runs: list[Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert _compile(ws).exit_code == 0
    monkeypatch.setattr(cache_mod, "fingerprint", lambda: "some-other-compiler")
    assert _compile(ws).exit_code == 0 and len(runs) == 2


def test_each_output_directory_has_its_own_record(ws: Path, runs: list[Path],
                                                  tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    assert _compile(ws).exit_code == 0
    assert _compile(ws, "--out", str(other)).exit_code == 0
    assert len(runs) == 2
    assert _compile(ws).exit_code == 0 and _compile(ws, "--out", str(other)).exit_code == 0
    assert len(runs) == 2
    assert tree_of(other) == tree_of(ws / "rendered")


def test_a_copied_workspace_does_not_replay_the_original(ws: Path, runs: list[Path],
                                                         tmp_path: Path) -> None:
    assert _compile(ws).exit_code == 0
    copy = tmp_path / "copy"
    shutil.copytree(ws, copy, ignore=shutil.ignore_patterns("rendered"))
    assert _compile(copy).exit_code == 0 and len(runs) == 2
    assert tree_of(copy / "rendered") == tree_of(ws / "rendered")


@pytest.mark.parametrize("damage", [b"", b"MENTATC1" + bytes(32) + b"junk"])
def test_a_damaged_record_is_ignored(ws: Path, runs: list[Path], damage: bytes) -> None:
    assert _compile(ws).exit_code == 0
    (entry,) = [p for p in (ws / CACHE_DIR / "build").rglob("*") if p.is_file()]
    entry.write_bytes(damage)
    assert _compile(ws).exit_code == 0 and len(runs) == 2


def test_a_sealed_record_naming_inputs_that_are_not_paths_is_refused(
        ws: Path, runs: list[Path]) -> None:
    import marshal

    from tests.unit.cache.cachekit import sealed

    assert _compile(ws).exit_code == 0
    (entry,) = [p for p in (ws / CACHE_DIR / "build").rglob("*") if p.is_file()]
    key, (inputs, *rest) = marshal.loads(entry.read_bytes()[40:])
    entry.write_bytes(sealed(marshal.dumps((key, ({**inputs, 5: "x"}, *rest)), 4)))
    result = _compile(ws)
    assert result.exit_code == 0, result.output
    assert len(runs) == 2  # compiled: the record was refused, not trusted or fatal


def test_a_failed_compile_is_never_replayed(ws: Path, runs: list[Path]) -> None:
    assert _compile(ws).exit_code == 0
    flow = sorted((ws / "flows").rglob("*.yaml"))[0]
    good = flow.read_text()
    flow.write_text(good + "\n---\nkind: Nonsense\n")
    assert _compile(ws).exit_code == 1
    assert _compile(ws).exit_code == 1 and len(runs) == 3
    flow.write_text(good)  # back to what the output was compiled from: replayed again
    assert _compile(ws).exit_code == 0 and len(runs) == 3


# --- found in review: each of these once replayed where a compile gives another answer ----


def _check_both(ws: Path) -> tuple[Result, Result]:
    return _compile(ws, "--check", "--no-cache"), _compile(ws, "--check")


def test_an_output_symlink_pointed_elsewhere_is_not_replayed(ws: Path, runs: list[Path]) -> None:
    (ws / "rendered").mkdir()
    (ws / "rendered").rename(ws / "out-a")
    (ws / "out-b").mkdir()
    (ws / "rendered").symlink_to("out-a")
    assert _compile(ws).exit_code == 0
    (ws / "rendered").unlink()
    (ws / "rendered").symlink_to("out-b")
    cold, warm = _check_both(ws)
    assert cold.exit_code == warm.exit_code == 1  # out-b is empty: drift, not "up to date"


def test_an_output_moved_out_of_the_workspace_is_not_replayed(ws: Path, runs: list[Path],
                                                                tmp_path: Path) -> None:
    assert _compile(ws).exit_code == 0
    (ws / "rendered").rename(tmp_path / "elsewhere")  # same inodes: the snapshot matches
    (ws / "rendered").symlink_to(tmp_path / "elsewhere")
    result = _compile(ws)
    assert result.exit_code == 1 and "M107" in result.stderr


def test_a_removed_policy_directory_is_not_replayed(ws: Path, runs: list[Path]) -> None:
    (ws / "team-policies" / "gpu.yaml").unlink()  # a directory without rules: an error too
    (ws / "team-policies" / ".gitkeep").write_text("")
    result = _compile(ws)
    assert result.exit_code == 1 and "holds no policy rules" in result.stderr
    shutil.rmtree(ws / "team-policies")
    result = _compile(ws)
    assert result.exit_code == 1 and "does not exist" in result.stderr and len(runs) == 2


def test_a_module_edited_while_compiling_is_not_replayed(ws: Path, runs: list[Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.wasm import stage

    wat = ws / "flows" / "wasm" / "greeter.wat"
    real = stage.build_bundles

    def racing(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        wat.write_text(wat.read_text() + "\n;; saved while the compile ran\n")
        return out

    monkeypatch.setattr(stage, "build_bundles", racing)
    assert _compile(ws).exit_code == 0
    monkeypatch.undo()
    cold, warm = _check_both(ws)
    assert cold.exit_code == warm.exit_code == 1  # the tree was built from the old module


def test_replay_resumes_after_an_output_file_is_touched(ws: Path, runs: list[Path]) -> None:
    assert _compile(ws).exit_code == 0 and _compile(ws).exit_code == 0 and len(runs) == 1
    os.utime(ws / "rendered" / "cost.json")  # same content, new stat
    assert _compile(ws).exit_code == 0 and len(runs) == 2  # compared, found equal
    assert _compile(ws).exit_code == 0 and len(runs) == 2  # the snapshot was refreshed


def test_a_vanished_output_file_is_never_replayed(ws: Path, runs: list[Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.write.outputs import Outputs

    real = Outputs.remember

    def lossy(self: Outputs, out: Path, *rest: Any) -> Any:
        (out / "cost.json").unlink()  # removed between the write and the cache's record
        return real(self, out, *rest)

    monkeypatch.setattr(Outputs, "remember", lossy)
    assert _compile(ws).exit_code == 0
    monkeypatch.undo()
    cold, warm = _check_both(ws)
    assert cold.exit_code == warm.exit_code == 1 and "cost.json" in warm.stderr
