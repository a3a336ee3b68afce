"""The compile step for wasm agents: read, check and bundle every wasm agent version."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from compiler.diagnostics import Diagnostic, Severity
from compiler.load import read_source
from compiler.model import AgentSpec, WasmBundle, Workspace
from compiler.wasm.bundle import build_bundle
from compiler.wasm.module import Capabilities, CheckedModule, parse_file_grant, read_module

__all__ = ["blocking_imports", "build_bundles", "check_agent_module", "module_source_digests"]


def build_bundles(
    ws: Workspace, *, precompile: bool = False
) -> tuple[dict[str, WasmBundle], list[Diagnostic]]:
    """One OCI bundle per wasm agent version, keyed by "name@version".

    `precompile` adds a wasmtime artifact for this machine; it is off for the committed
    output tree, which must be byte-identical on every machine and wasmtime version.
    """
    bundles: dict[str, WasmBundle] = {}
    diags: list[Diagnostic] = []
    for agent in ws.agents:
        if agent.runtime != "wasm":
            continue
        checked, problems, source = _check(Path(ws.root), agent)
        diags += problems
        if checked is not None:
            bundle = build_bundle(agent, checked, precompile=precompile)
            bundles[agent.key] = replace(bundle, source_digest=source)
    return bundles, diags


def check_agent_module(
    root: Path, agent: AgentSpec
) -> tuple[CheckedModule | None, list[Diagnostic]]:
    """Read the agent's module (escapes refused) and hold it to the ABI and capabilities."""
    checked, diags, _ = _check(root, agent)
    return checked, diags


def _check(root: Path, agent: AgentSpec) -> tuple[CheckedModule | None, list[Diagnostic], str]:
    """`check_agent_module`, with the sha256 of the module source it read."""
    doc = agent.doc
    pos = doc.pos(("spec", "module"))

    def at_module(code: str, message: str, hint: str = "") -> Diagnostic:
        return Diagnostic(code, message, doc.file, pos.line, pos.col, hint=hint)

    diags = _check_grants(agent)
    rel = agent.module or ""
    content, err = read_source(root, rel) if rel else (None, None)
    if content is None:
        if err is not None and err.code in ("M107", "M106"):
            diags.append(at_module(err.code, f"module '{rel}': {err.message}"))
        else:
            reason = err.message if err is not None else "no module given"
            diags.append(
                at_module(
                    "M310",
                    f"module '{rel}' of agent {agent.key} is missing ({reason})",
                    hint="commit the .wat or .wasm file next to the agent",
                )
            )
        return None, diags, ""
    checked, problems = read_module(rel, content, Capabilities.from_spec(agent.capabilities))
    for p in problems:
        if p.line:  # a .wat syntax error: point into the module text itself
            diags.append(Diagnostic(p.code, p.message, rel, p.line, p.col, hint=p.hint))
        else:
            diags.append(at_module(p.code, f"module '{rel}': {p.message}", p.hint))
    if diags:
        return None, diags, ""
    assert checked is not None
    waits = blocking_imports(checked.imports, Capabilities.from_spec(agent.capabilities))
    if waits:
        diags.append(Diagnostic(
            "M514", f"module '{rel}' can wait in a host call: {'; '.join(waits)}", doc.file,
            pos.line, pos.col, Severity.WARNING,
            hint="`wasm run` holds the wall-clock limit (--timeout-ms) through these calls"))
    return checked, diags, hashlib.sha256(content).hexdigest()


# What a module may block on inside the host (where fuel and epochs do not count), by import.
_WAITS = {
    "poll_oneoff": ("core", "poll_oneoff (a sleep or a wait for input)"),
    "fd_read": ("files", "fd_read (a FIFO or device in a granted directory)"),
    "path_open": ("files", "path_open (opening a FIFO waits for its other end)"),
    "sock_accept": ("network", "sock_accept (a connection)"),
    "sock_recv": ("network", "sock_recv (data from the network)"),
}


def blocking_imports(imports: tuple[str, ...], caps: Capabilities) -> list[str]:
    """The host calls a module imports that can wait (with its grants), described."""
    return [what for name, (needs, what) in _WAITS.items()
            if name in imports and caps.grants(needs)]


def _check_grants(agent: AgentSpec) -> list[Diagnostic]:
    doc = agent.doc
    out = []
    for i, entry in enumerate(Capabilities.from_spec(agent.capabilities).files):
        parsed = parse_file_grant(entry)
        if isinstance(parsed, str):
            p = doc.pos(("spec", "capabilities", "files", i))
            out.append(Diagnostic("M513", parsed, doc.file, p.line, p.col))
    return out


def module_source_digests(ws: Workspace, bundles: dict[str, WasmBundle]) -> dict[str, str]:
    """sha256 of every wasm agent's module source, for index.json's `sources` (provenance),
    as read when its bundle was built (not read again: the file may have changed since)."""
    out = {a.module: bundles[a.key].source_digest for a in ws.agents
           if a.runtime == "wasm" and a.module and a.key in bundles}
    return dict(sorted(out.items()))
