"""Recompiling a signed tree into something else says the signature no longer applies (once,
as a warning naming the bundle); a recompile that changes nothing keeps the signature quietly;
a replayed compile does not repeat the warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main


def run(*args: object) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


def test_recompiling_a_signed_tree(make_ws, tmp_path: Path,  # type: ignore[no-untyped-def]
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MENTAT_PKI_PASSPHRASE", raising=False)
    root = make_ws()
    assert run("compile", root)[0] == 0
    assert run("pki", "init", tmp_path / "pki")[0] == 0
    assert run("sign", root / "rendered", "--pki", tmp_path / "pki")[0] == 0
    code, _, err = run("compile", root)  # nothing changed: the signature stands
    assert code == 0 and "signature" not in err
    assert (root / "rendered" / "index.sigstore.json").is_file()

    agents = root / "flows" / "agents.yaml"
    agents.write_text(agents.read_text().replace("cpu: 100m", "cpu: 200m"))
    code, _, err = run("compile", root)
    assert code == 0
    assert ("warning[M805]: the signature no longer applies: this compile changed" in err
            and "index.sigstore.json was removed" in err and "sign again" in err)
    assert not (root / "rendered" / "index.sigstore.json").exists()
    code, _, err = run("compile", root)  # replayed: nothing to say about a signature now
    assert code == 0 and "M805" not in err

    agents.write_text(agents.read_text().replace("cpu: 200m", "cpu: 300m"))
    assert run("sign", root / "rendered", "--pki", tmp_path / "pki")[0] == 0
    code, out, _ = run("compile", root, "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    assert [d["code"] for d in doc["diagnostics"]] == ["M805"]
    assert doc["diagnostics"][0]["severity"] == "warning"
