"""The head's rendered-tree digest is the one `sign` puts in its statement (the subject
index.json) for the same commit compiled in place."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from compiler.cli import main
from compiler.sign.statement import BuildContext, build_statement, parse_index
from tests.unit.diff.diffkit import GitWorkspace


def test_head_digest_is_the_signed_index_digest(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    ws.replace("flows/flow.yaml", "fetch: {replicas: 2}", "fetch: {replicas: 3}")
    ws.commit("scale fetch")
    doc = ws.json("main~1")
    compiled = CliRunner().invoke(main, ["compile", str(ws.root)], catch_exceptions=False)
    assert compiled.exit_code == 0, compiled.output
    index = parse_index((ws.root / "rendered/index.json").read_bytes())
    statement = build_statement(index, BuildContext())
    subject = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert doc["head"]["treeDigest"] == f"sha256:{subject['index.json']}"
    assert doc["head"]["commit"] == ws.git("rev-parse", "HEAD")
