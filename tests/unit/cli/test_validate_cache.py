"""`validate` uses the incremental cache as `compile` does: it fills .mentat/ and reuses it,
replays the last compile's verdict while nothing has changed, and never replays a stale one."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from compiler.cli import main


def run(*args: object) -> tuple[int, str]:
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stderr


def test_validate_fills_and_reuses_the_cache(make_ws) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_ws()
    assert run("validate", root, "--no-cache")[0] == 0 and not (root / ".mentat").exists()
    assert run("validate", root)[0] == 0
    entries = {p for p in (root / ".mentat").rglob("*") if p.is_file()}
    assert entries  # parsed sources, rendered units, schema checks, policy outcomes
    code, err = run("validate", root, "-v")
    assert code == 0 and "ok: 1 flows" in err
    assert not (root / "rendered").exists()  # validate writes no output


def test_validate_replays_an_unchanged_compile(make_ws) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_ws()
    assert run("compile", root)[0] == 0
    code, err = run("validate", root, "-v")
    assert code == 0 and "its report stands" in err and "would be rendered" in err


def test_an_edit_is_never_replayed(make_ws) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_ws()
    assert run("compile", root)[0] == 0
    flow = root / "flows" / "flow.yaml"
    flow.write_text(flow.read_text().replace("sum.text", "sum.txt"))
    code, err = run("validate", root)
    assert code == 1 and "M302" in err
    flow.write_text(flow.read_text().replace("sum.txt", "sum.text"))
    assert run("validate", root)[0] == 0
