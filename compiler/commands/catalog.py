"""`mentatctl catalog`: every agent version of the workspace as a static, searchable HTML
page (one file, no server) and `catalog.json`: pins, runtime, resources, image or bundle
digest, signature status and the flows that use it.

The signature status is the output tree's: `unsigned` (no index.sigstore.json), `signed`
(a signature is there; pass --trust ROOT.pem to check it), `verified` or `invalid` (after
`verify` against that root), `not rendered` (none of the files in the output's index.json
come from the agent's source file: compile first).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import jinja2

from compiler import __version__
from compiler.diagnostics import has_errors
from compiler.load import output_dir
from compiler.model.graph import Workspace
from compiler.output import dump_document, emit, output_option, workspace_option, workspace_root
from compiler.pipeline import compile_workspace

__all__ = ["build_catalog", "catalog", "render_html"]


def _signature(rendered: Path | None, trust: Path | None) -> tuple[str, str, set[str]]:
    """(status, detail, sources of the signed files) for the whole output tree."""
    from compiler.sign.bundle import BUNDLE_NAME
    from compiler.sign.statement import INDEX_NAME, IndexFormatError, parse_index

    if rendered is None or not (rendered / INDEX_NAME).is_file():
        return "not rendered", "no index.json: run mentatctl compile", set()
    try:
        index = json.loads((rendered / INDEX_NAME).read_bytes())
        parse_index((rendered / INDEX_NAME).read_bytes())
    except (OSError, ValueError, IndexFormatError) as e:
        return "invalid", f"index.json unreadable: {e}", set()
    sources = {s for f in index.get("files", []) for s in f.get("sources", [])}
    if not (rendered / BUNDLE_NAME).is_file():
        return "unsigned", "", sources
    if trust is None:
        return "signed", "not verified: pass --trust ROOT.pem", sources
    from compiler.sign.verify import load_trust_roots, verify_pki

    try:
        roots = load_trust_roots(trust.read_bytes())
    except OSError as e:
        raise click.UsageError(f"cannot read {trust}: {e.strerror}") from e
    result = verify_pki(rendered, roots)
    if result.ok:
        return "verified", f"signed by {result.signer}", sources
    return "invalid", result.diagnostics[0].message, sources


def build_catalog(ws: Workspace, bundles: dict[str, Any], rendered: Path | None,
                  trust: Path | None = None) -> dict[str, Any]:
    """The catalog as data (catalog.json): deterministic, sorted by (name, version)."""
    status, detail, signed_sources = _signature(rendered, trust)
    users: dict[str, dict[tuple[str, str], list[str]]] = {}
    for flow in ws.flows:
        for node in flow.nodes:
            per = users.setdefault(node.agent.key, {})
            per.setdefault((flow.flow.name, flow.flow.version), []).append(node.id)
    agents = []
    for a in ws.agents:
        bundle = bundles.get(a.key)
        used = [{"flow": f, "version": v, "nodes": sorted(nodes)}
                for (f, v), nodes in sorted(users.get(a.key, {}).items())]
        pins = {side: [{"name": p.name, "type": p.type, "stream": p.stream}
                       for p in getattr(a, side)] for side in ("inputs", "outputs")}
        # an agent is rendered when a flow uses it (a wasm one also as its bundle)
        rendered_here = status in ("not rendered", "invalid") or (
            a.doc.file in signed_sources and bool(used or bundle))
        entry: dict[str, Any] = {
            "name": a.name, "version": a.version, "runtime": a.runtime,
            "source": a.doc.file, "image": a.image,
            "bundleDigest": bundle.digest if bundle else None,
            "moduleDigest": bundle.module_digest if bundle else None,
            **pins,
            "resources": {k: a.resources[k] for k in sorted(a.resources)},
            "labels": dict(sorted(a.labels.items())),
            "signature": {"status": status if rendered_here else "not rendered",
                          "detail": detail if rendered_here else "no rendered file comes "
                          "from its source (no flow uses it)"},
            "usedBy": used,
        }
        agents.append(entry)
    return {"apiVersion": "mentatlab.io/v1", "kind": "AgentCatalog",
            "workspace": ws.spec.name, "agents": agents}


def _search_text(a: dict[str, Any]) -> str:
    """What the page's search box matches an agent against (every word must occur)."""
    words = [a["name"], f"{a['name']}@{a['version']}", a["runtime"], a["image"] or "",
             a["signature"]["status"], a["source"],
             *(f"{p['name']} {p['type']}" for p in a["inputs"] + a["outputs"]),
             *(f"{u['flow']} {u['flow']}@{u['version']}" for u in a["usedBy"])]
    return " ".join(w for w in words if w).lower()


def render_html(data: dict[str, Any]) -> bytes:
    """The page: the catalog as a table (readable without JavaScript) and a search box."""
    agents = [{**a, "search": _search_text(a)} for a in data["agents"]]
    env = jinja2.Environment(loader=jinja2.PackageLoader("compiler", "data/templates"),
                             undefined=jinja2.StrictUndefined, autoescape=True,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("catalog.html.j2").render(
        workspace=data["workspace"], agents=agents, version=__version__).encode()


def _write(out: Path, files: dict[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out / name)


@click.command()
@workspace_option()
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="Where to write index.html and catalog.json (default: catalog/ in the "
                   "workspace).")
@click.option("--trust", type=click.Path(dir_okay=False, path_type=Path),
              help="Verify the output tree's signature against this root certificate.")
@output_option(help="text: a summary; json (or yaml): catalog.json on stdout as well.")
def catalog(workspace: str, out: str | None, trust: Path | None, fmt: str) -> None:
    """Write the agent catalog: one static HTML page (searchable) and catalog.json.

    \b
    Examples:
      mentatctl catalog                         # catalog/index.html, catalog/catalog.json
      mentatctl catalog --out public/ --trust pki/root.pem
      mentatctl catalog -o json | jq '.agents[] | select(.runtime == "wasm") | .name'
    """
    root = workspace_root(workspace)
    result = compile_workspace(root, stop_after="link")
    ws = result.workspace
    if ws is None or has_errors(result.diagnostics):
        emit(fmt, diagnostics=result.diagnostics)
        sys.exit(1)
    bundles: dict[str, Any] = {}
    if any(a.runtime == "wasm" for a in ws.agents):
        from compiler.wasm.stage import build_bundles

        bundles, diags = build_bundles(ws)
        if has_errors(diags):
            emit(fmt, diagnostics=diags)
            sys.exit(1)
    data = build_catalog(ws, bundles, output_dir(root, ws.spec.output), trust)
    target = Path(out) if out is not None else root / "catalog"
    # catalog.json is the JSON document -o json prints, byte for byte
    _write(target, {"catalog.json": dump_document("json", data).encode(),
                    "index.html": render_html(data)})
    emit(fmt, data, text=f"wrote {target / 'index.html'} and catalog.json "
                         f"({len(data['agents'])} agent versions)")
