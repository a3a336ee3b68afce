"""The command-line contract: `pki init DIR`, `sign RENDERED --pki DIR`, `verify RENDERED
--trust DIR/root.pem`, exit codes, JSON output, and that no key ever leaks into output."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from compiler.commands.sign import pki, sign, verify


@click.group()
def _cli() -> None:
    """The three commands as the real `main` group registers them."""


_cli.add_command(pki)
_cli.add_command(sign)
_cli.add_command(verify)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(_cli, [str(a) for a in args], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def _no_passphrase(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MENTAT_PKI_PASSPHRASE", raising=False)
    monkeypatch.chdir(tmp_path)  # no mentat.yaml above: flags only


def test_contract_round_trip(tree: Path, tmp_path: Path) -> None:
    d = tmp_path / "keys"
    code, out, _ = run("pki", "init", d)
    assert code == 0, out
    for name in ("root.pem", "intermediate.pem", "signing.pem", "signing.key"):
        assert (d / name).is_file()
    before = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    code, out, err = run("sign", tree, "--pki", d)
    assert code == 0, err
    assert "signed 4 files" in out and "index.sigstore.json" in out
    after = {p: p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    assert {p for p in after if p not in before} == {tree / "index.sigstore.json"}
    assert all(after[p] == before[p] for p in before)  # rendered files untouched
    code, out, err = run("verify", tree, "--trust", d / "root.pem")
    assert code == 0, err
    assert "4 files match the signed statement" in out
    assert "signer:    mentatctl@mentatlab.local" in out


def test_verify_failure_exits_1_and_names_the_cause(tree: Path, tmp_path: Path) -> None:
    d = tmp_path / "keys"
    run("pki", "init", d)
    run("sign", tree, "--pki", d)
    (tree / "crds/agents.mentatlab.io.yaml").write_text("tampered\n")
    code, out, err = run("verify", tree, "--trust", d / "root.pem")
    assert code == 1
    assert "error[M805]: file changed since signing: crds/agents.mentatlab.io.yaml" in err
    assert "verification FAILED" in out


def test_verify_json(tree: Path, tmp_path: Path) -> None:
    d = tmp_path / "keys"
    run("pki", "init", d)
    run("sign", tree, "--pki", d)
    code, out, _ = run("verify", tree, "--trust", d / "root.pem", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True and data["method"] == "pki" and data["files"] == 4
    assert data["diagnostics"] == []
    (tree / "index.json").write_text("{}\n")
    code, out, _ = run("verify", tree, "--trust", d / "root.pem", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    assert data["diagnostics"][0]["message"].startswith("index.json is not the one that was signed")


def test_keys_never_reach_the_output_or_the_terminal(tree: Path, tmp_path: Path) -> None:
    d = tmp_path / "keys"
    env = {"MENTAT_PKI_PASSPHRASE": "hunter2-passphrase"}
    outputs = [run("pki", "init", d, env=env), run("sign", tree, "--pki", d, env=env)]
    outputs.append(run("verify", tree, "--trust", d / "root.pem", "--format", "json"))
    assert all(code == 0 for code, _, _ in outputs), outputs
    keys = [(d / k).read_bytes() for k in ("root.key", "intermediate.key", "signing.key")]
    for path in tree.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"PRIVATE KEY" not in content
            assert not any(k in content for k in keys)
    text = "".join(o + e for _, o, e in outputs)
    assert "PRIVATE KEY" not in text and "hunter2" not in text


def test_pki_dir_inside_the_output_is_refused(tree: Path, tmp_path: Path) -> None:
    d = tmp_path / "keys"
    run("pki", "init", d)
    inside = tree / "keys"
    inside.mkdir()
    for f in d.iterdir():
        (inside / f.name).write_bytes(f.read_bytes())
        (inside / f.name).chmod(f.stat().st_mode)
    code, _, err = run("sign", tree, "--pki", inside)
    assert code == 1
    assert "keys must never live there" in err
    assert not (tree / "index.sigstore.json").exists()


def test_encrypted_key_without_passphrase(tree: Path, tmp_path: Path) -> None:
    d = tmp_path / "keys"
    run("pki", "init", d, env={"MENTAT_PKI_PASSPHRASE": "s3cret"})
    code, _, err = run("sign", tree, "--pki", d)
    assert code == 1
    assert "error[M806]" in err and "set MENTAT_PKI_PASSPHRASE" in err


def test_sign_refuses_a_tree_without_index(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    run("pki", "init", d)
    (tmp_path / "empty").mkdir()
    code, _, err = run("sign", tmp_path / "empty", "--pki", d)
    assert code == 1 and "no index.json" in err


def test_pki_init_twice_exits_1(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    assert run("pki", "init", d)[0] == 0
    code, _, err = run("pki", "init", d)
    assert code == 1 and "already holds a PKI" in err


def test_pki_issue(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    run("pki", "init", d)
    old = (d / "signing.pem").read_bytes()
    code, out, _ = run("pki", "issue", d, "--days", "7", "--format", "json")
    assert code == 0
    assert json.loads(out)["signer"] == "mentatctl@mentatlab.local"
    assert (d / "signing.pem").read_bytes() != old


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "x"),
        ("verify", "x", "--identity", "me"),
        ("verify", "x", "--trust", "r.pem", "--identity", "a", "--issuer", "b"),
        ("sign", "x"),
        ("sign", "x", "--pki", "k", "--keyless"),
        ("sign", "--no-such-flag"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert run(*args)[0] == 2


def test_sign_reads_the_signer_from_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.sign.signkit import DEFAULT_FILES, write_tree

    ws = tmp_path / "ws"
    write_tree(ws / "out", DEFAULT_FILES)
    (ws / "mentat.yaml").write_text(
        "apiVersion: mentatlab.io/v1\nkind: Workspace\nmetadata: {name: demo}\n"
        "spec:\n  output: out/\n  signing: {method: pki, pki: ../keys}\n"
    )
    run("pki", "init", tmp_path / "keys")
    monkeypatch.chdir(ws)
    code, _, err = run("sign")
    assert code == 0, err
    assert (ws / "out/index.sigstore.json").is_file()
    assert run("verify", "--trust", tmp_path / "keys/root.pem")[0] == 0


def test_help_has_examples() -> None:
    for args in (("pki", "init"), ("pki", "issue"), ("sign",), ("verify",)):
        code, out, _ = run(*args, "--help")
        assert code == 0 and "Example" in out


def test_missing_output_directory_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("verify", tmp_path / "nope", "--trust", tmp_path / "root.pem")
    assert code == 2 and "does not exist" in err


def test_github_annotations(tree: Path, tmp_path: Path) -> None:
    d = tmp_path / "keys"
    run("pki", "init", d)
    run("sign", tree, "--pki", d)
    (tree / "index.json").write_text("{}\n")
    code, _, err = run("verify", tree, "--trust", d / "root.pem", "--format", "github")
    assert code == 1
    assert err.startswith("::error file=") and "title=M805::index.json is not the one" in err


def test_passphrase_variable_from_flag_or_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.sign.signkit import DEFAULT_FILES, write_tree

    ws = tmp_path / "ws"
    write_tree(ws / "out", DEFAULT_FILES)
    (ws / "mentat.yaml").write_text(
        "apiVersion: mentatlab.io/v1\nkind: Workspace\nmetadata: {name: demo}\n"
        "spec:\n  output: out/\n  signing: {method: pki, pki: ../keys, passphraseEnv: TEAM_PASS}\n"
    )
    assert (
        run("pki", "init", tmp_path / "keys", "--passphrase-env", "TEAM_PASS", env={"TEAM_PASS": "pw"})[0]
        == 0
    )
    monkeypatch.chdir(ws)
    assert run("sign", env={"TEAM_PASS": "pw"})[0] == 0  # variable named by the workspace
    code, _, err = run("sign", "--passphrase-env", "OTHER", env={"TEAM_PASS": "pw"})
    assert code == 1 and "is encrypted; set OTHER" in err  # the flag wins over the workspace
