"""A flag that does nothing where it is given is a usage error (exit 2) and nothing is written;
the same value from an environment variable (Argo CD sets it on every call) is not."""

from __future__ import annotations

from click.testing import CliRunner

from compiler.cli import main


def test_target_without_stdout(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["compile", str(root), "--target", "prod/us-east-1"])
    assert r.exit_code == 2 and "--target has no effect without --stdout" in r.stderr
    assert not (root / "rendered").exists()


def test_target_from_the_environment_is_not_an_error(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["compile", str(root)], env={"MENTAT_TARGET": "prod/us-east-1"})
    assert r.exit_code == 0 and (root / "rendered" / "index.json").is_file()


def test_out_with_stdout(make_ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    r = CliRunner().invoke(main, ["compile", str(root), "--stdout", "--target", "prod/us-east-1",
                                  "--out", str(tmp_path / "out")])
    assert r.exit_code == 2 and "--out has no effect with --stdout" in r.stderr
    assert r.stdout == "" and not (tmp_path / "out").exists()
