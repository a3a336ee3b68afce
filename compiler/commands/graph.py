"""`mentatctl graph FLOW`: a linked flow drawn as Mermaid, Graphviz DOT or SVG (through
Graphviz's `dot`), or listed as JSON. Nodes show agent@version and runtime; edges the pins
they connect and their type (streamed pins as dotted lines)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import Any

import click
import semantic_version

from compiler.diagnostics import has_errors
from compiler.model.graph import LinkedFlow, Workspace
from compiler.output import (
    DOCUMENT_FORMATS,
    emit,
    output_option,
    workspace_option,
    workspace_root,
)
from compiler.pipeline import compile_workspace

__all__ = ["dot", "graph", "graph_doc", "mermaid", "pick", "svg"]


def _edges(flow: LinkedFlow) -> list[tuple[str, str, str, str, str, bool]]:
    """(src node, src pin, dst node, dst pin, type, streamed) per edge, in the flow's order."""
    out = []
    for e in flow.edges:
        pin = flow.node(e.src_node).agent.output(e.src_pin)
        out.append((e.src_node, e.src_pin, e.dst_node, e.dst_pin, pin.type if pin else "?",
                    bool(pin and pin.stream)))
    return out


def _mid(node_id: str) -> str:
    return "n_" + node_id.replace("-", "_")  # never a Mermaid keyword (end, graph...)


def mermaid(flow: LinkedFlow) -> str:
    f = flow.flow
    lines = ["flowchart LR", f"  %% {f.name}@{f.version} ({f.mode})"]
    for n in flow.nodes:
        label = f'"<b>{n.id}</b><br/>{n.agent.key}<br/>{n.agent.runtime}"'
        shape = f"([{label}])" if n.agent.runtime == "wasm" else f"[{label}]"
        lines.append(f"  {_mid(n.id)}{shape}")
    for src, sp, dst, dp, type_, stream in _edges(flow):
        arrow = "-.->" if stream else "-->"
        lines.append(f'  {_mid(src)} {arrow}|"{sp} → {dp}: {type_}"| {_mid(dst)}')
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(flow: LinkedFlow) -> str:
    f = flow.flow
    lines = [f"digraph {_q(f'{f.name}@{f.version}')} {{", "  rankdir=LR;",
             f"  label={_q(f'{f.name}@{f.version} ({f.mode})')};",
             '  node [shape=box, style="rounded", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for n in flow.nodes:
        shape = ", shape=ellipse" if n.agent.runtime == "wasm" else ""
        label = f"{n.id}\\n{n.agent.key}\\n{n.agent.runtime}"
        lines.append(f'  {_q(n.id)} [label="{label}"{shape}];')
    for src, sp, dst, dp, type_, stream in _edges(flow):
        style = ", style=dashed" if stream else ""
        lines.append(f'  {_q(src)} -> {_q(dst)} [label={_q(f"{sp} → {dp}: {type_}")}{style}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


class GraphvizMissing(click.ClickException):
    exit_code = 2


def svg(flow: LinkedFlow) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing(
            "-o svg needs Graphviz's `dot` on PATH, and there is none: install Graphviz "
            "(apt-get install graphviz, brew install graphviz), or print the source with "
            "-o dot (or -o mermaid, which GitHub renders in Markdown)")
    done = subprocess.run([exe, "-Tsvg"], input=dot(flow).encode(), capture_output=True,
                          check=False, timeout=60)
    if done.returncode != 0:
        raise click.ClickException(f"dot failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def graph_doc(flow: LinkedFlow) -> dict[str, Any]:
    """The flow as data: what -o json and -o yaml print."""
    f = flow.flow
    return {
        "flow": f.name, "version": f.version, "mode": f.mode, "file": f.doc.file,
        "nodes": [{"id": n.id, "agent": n.agent.name, "version": n.agent.version,
                   "runtime": n.agent.runtime, "replicas": n.replicas} for n in flow.nodes],
        "edges": [{"from": f"{s}.{sp}", "to": f"{d}.{dp}", "type": t, "stream": st}
                  for s, sp, d, dp, t, st in _edges(flow)],
    }


def pick(ws: Workspace, ref: str) -> LinkedFlow:
    """The flow NAME (its highest version) or NAME@VERSION; a usage error naming the flows
    there are when it does not exist."""
    name, _, version = ref.partition("@")
    matches = [f for f in ws.flows if f.flow.name == name
               and (not version or f.flow.version == version)]
    if not matches:
        known = ", ".join(sorted({f.flow.key for f in ws.flows})) or "none"
        raise click.UsageError(f"no flow {ref!r} in the workspace (flows: {known})")
    return max(matches, key=lambda f: semantic_version.Version(f.flow.version))


@click.command()
@click.argument("flow", metavar="FLOW")
@workspace_option(argument=False)
@output_option(extra=("mermaid", "dot", "svg"), aliases={"text": "mermaid"}, default="mermaid",
               help="Mermaid (text), Graphviz DOT, SVG (needs Graphviz), JSON or YAML.")
def graph(flow: str, workspace: str, fmt: str) -> None:
    """Draw FLOW (NAME or NAME@VERSION): its nodes (agent@version, runtime) and typed edges.

    \b
    Examples:
      mentatctl graph news-digest                       # Mermaid, for Markdown
      mentatctl graph news-digest -o svg > news-digest.svg
      mentatctl graph news-digest@0.3.0 -o dot | dot -Tpng > news-digest.png
    """
    root = workspace_root(workspace)
    result = compile_workspace(root, stop_after="link")
    if result.workspace is None or has_errors(result.diagnostics):
        emit(fmt, diagnostics=result.diagnostics)
        sys.exit(1)
    linked = pick(result.workspace, flow)
    if fmt in DOCUMENT_FORMATS:
        emit(fmt, graph_doc(linked))
    elif fmt == "svg":
        emit(fmt, text=svg(linked))
    else:  # the drawing's source
        emit(fmt, text=dot(linked) if fmt == "dot" else mermaid(linked))
