"""-q/--quiet and -v/--verbose, on every command and before the command name: -q keeps errors
and the data asked for, -v adds the stages; together they are a usage error."""

from __future__ import annotations

from click.testing import CliRunner

from compiler.cli import main


def test_quiet_compile_prints_nothing_when_all_is_well(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["compile", str(root), "-q"])
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""
    r = CliRunner().invoke(main, ["-q", "compile", str(root), "--check"])
    assert r.exit_code == 0 and r.stderr == ""


def test_quiet_keeps_errors(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws({"flows/bad.yaml": "a: 1\na: 2\n"})
    r = CliRunner().invoke(main, ["validate", str(root), "--quiet"])
    assert r.exit_code == 1 and "error[M103]" in r.stderr


def test_verbose_shows_the_stages(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["-v", "compile", str(root)])
    assert r.exit_code == 0
    for stage in ("load", "validate", "link", "policy", "render", "check", "done"):
        assert f"] {stage}\n" in r.stderr, stage
    r = CliRunner().invoke(main, ["compile", str(root), "--verbose"])
    assert r.exit_code == 0 and "its report stands" in r.stderr


def test_every_command_takes_both() -> None:
    for args in (["version"], ["policy", "list"], ["completion", "bash"], ["cost", "--help"]):
        assert CliRunner().invoke(main, [*args, "-q"]).exit_code == 0, args
        assert CliRunner().invoke(main, [*args, "-v"]).exit_code == 0, args


def test_quiet_and_verbose_together_are_a_usage_error() -> None:
    r = CliRunner().invoke(main, ["-q", "version", "-v"])
    assert r.exit_code == 2 and "cannot be combined" in r.stderr
