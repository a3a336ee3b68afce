"""docs/authoring.md shows every example flow as the Mermaid `graph` prints today
(`pytest --update-golden` rewrites the block)."""

from __future__ import annotations

import re
from pathlib import Path

from compiler.commands.graph import mermaid
from compiler.pipeline import compile_workspace

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "authoring.md"
BLOCK = re.compile(r"(<!-- graphs:start -->\n)(.*?)(<!-- graphs:end -->)", re.S)


def block() -> str:
    ws = compile_workspace(REPO, stop_after="link").workspace
    assert ws is not None
    parts = [f"### {f.flow.name}@{f.flow.version} ({f.flow.mode}, `{f.flow.doc.file}`)\n\n"
             f"```mermaid\n{mermaid(f)}```\n" for f in ws.flows]
    return "\n".join(parts)


def test_docs_show_every_example_flow(update_golden: bool) -> None:
    text = DOC.read_text()
    m = BLOCK.search(text)
    assert m, "docs/authoring.md lacks the graphs markers"
    if update_golden:
        DOC.write_text(text[: m.start(2)] + block() + text[m.end(2):])
        return
    assert m.group(2) == block(), "run pytest --update-golden to redraw the flows"


def test_docs_name_every_authoring_command() -> None:
    text = DOC.read_text()
    for command in ("mentatctl init", "mentatctl new agent", "mentatctl new flow",
                    "mentatctl explain", "mentatctl schema export", "mentatctl graph",
                    "mentatctl migrate", "mentatctl catalog", "yaml-language-server: $schema="):
        assert command in text, command
