"""`mentatctl catalog`: catalog.json and the page, for every agent version of the workspace,
with the output tree's signature status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.commands.catalog import render_html

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the example workspace with its committed output."""
    monkeypatch.delenv("MENTAT_PKI_PASSPHRASE", raising=False)
    root = tmp_path / "ws"
    for part in ("flows", "rendered"):
        shutil.copytree(REPO / part, root / part)
    shutil.copy(REPO / "mentat.yaml", root / "mentat.yaml")
    return root


def agents(root: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    data = json.loads((root / "catalog/catalog.json").read_text())
    return {f"{a['name']}@{a['version']}": a for a in data["agents"]}


def test_lists_every_agent_version(ws: Path) -> None:
    code, out, _ = run("catalog", ws)
    assert code == 0 and "(14 agent versions)" in out
    found = agents(ws)
    assert sorted(found)[:3] == ["audio-ingest@1.0.0", "fetcher@1.0.0", "fetcher@1.1.0"]
    summarizer = found["summarizer@1.2.0"]
    assert summarizer["runtime"] == "container" and summarizer["image"].startswith(
        "ghcr.io/mentatlab/summarizer@sha256:")
    assert summarizer["inputs"] == [{"name": "text", "type": "text", "stream": False}]
    assert summarizer["resources"] == {"cpu": "500m", "memory": "256Mi"}
    assert summarizer["usedBy"] == [{"flow": "news-digest", "version": "0.3.0",
                                     "nodes": ["digest"]}]
    assert found["fetcher@1.0.0"]["usedBy"] == []  # the flow's range picks 1.1.0
    assert found["fetcher@1.0.0"]["signature"]["status"] == "not rendered"


def test_wasm_bundle_digest_is_the_rendered_one(ws: Path) -> None:
    run("catalog", ws)
    greeter = agents(ws)["greeter@1.0.0"]
    index = json.loads((ws / "rendered/bundles/greeter-1.0.0/index.json").read_text())
    assert greeter["bundleDigest"] == index["manifests"][0]["digest"]
    assert greeter["image"] is None and greeter["moduleDigest"].startswith("sha256:")


def test_signature_status(ws: Path, tmp_path: Path) -> None:
    run("catalog", ws)
    assert agents(ws)["greeter@1.0.0"]["signature"] == {"status": "unsigned", "detail": ""}
    keys = tmp_path / "keys"
    assert run("pki", "init", keys)[0] == 0
    assert run("sign", ws / "rendered", "--pki", keys)[0] == 0
    run("catalog", ws)
    assert agents(ws)["greeter@1.0.0"]["signature"]["status"] == "signed"
    run("catalog", ws, "--trust", keys / "root.pem")
    sig = agents(ws)["greeter@1.0.0"]["signature"]
    assert sig["status"] == "verified" and "mentatctl@" in sig["detail"]
    (ws / "rendered/crds/agents.mentatlab.io.yaml").write_text("tampered\n")
    run("catalog", ws, "--trust", keys / "root.pem")
    assert agents(ws)["greeter@1.0.0"]["signature"]["status"] == "invalid"


def test_deterministic_and_json_on_stdout(ws: Path, tmp_path: Path) -> None:
    code, out, _ = run("catalog", ws, "--out", tmp_path / "a", "-o", "json")
    assert code == 0 and json.loads(out)["kind"] == "AgentCatalog"
    run("catalog", ws, "--out", tmp_path / "b")
    for name in ("catalog.json", "index.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_page_escapes_what_it_shows(ws: Path) -> None:
    run("catalog", ws)
    data = json.loads((ws / "catalog/catalog.json").read_text())
    data["agents"][0]["source"] = "flows/<script>alert(1)</script>.yaml"
    html = render_html(data).decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert html.count('<tr class="agent') == 14


def test_broken_workspace_exits_1(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws(flow="apiVersion: mentatlab.io/v1\nkind: Flow\n")
    code, _, err = run("catalog", root)
    assert code == 1 and "M201" in err


def test_help_has_an_example() -> None:
    code, out, _ = run("catalog", "--help")
    assert code == 0 and "Example" in out
