"""`mentatctl wasm run`: run a wasm agent of the workspace locally, in its sandbox."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

import click
import semantic_version

from compiler.diagnostics import Diagnostic
from compiler.load import load
from compiler.model import AgentSpec
from compiler.output import (
    DOCUMENT_FORMATS,
    emit,
    error,
    notice,
    output_option,
    workspace_option,
    workspace_root,
)
from compiler.validate import validate
from compiler.wasm.grants import memory_limit_for
from compiler.wasm.run import run_agent
from compiler.wasm.sandbox import DEFAULT_LIMITS, Limits

__all__ = ["wasm"]


@click.group()
def wasm() -> None:
    """WebAssembly agents.

    \b
    Example:
      mentatctl wasm run uppercase --input text="hello"
    """


@wasm.command("run")
@click.argument("agent")
@workspace_option(argument=False)
@click.option("--input", "-i", "inputs", multiple=True, metavar="PIN=VALUE",
              help="An input pin; json pins take JSON, @FILE reads the value from a file.")
@click.option("--fuel", type=click.IntRange(min=1), default=DEFAULT_LIMITS.fuel,
              show_default=True, help="Fuel budget (about one unit per wasm instruction).")
@click.option("--memory-mb", type=click.IntRange(min=1, max=4096), default=None,
              help="Memory limit in MiB (default: the agent's resources.memory, else 64).")
@click.option("--timeout-ms", type=click.IntRange(min=1), default=DEFAULT_LIMITS.timeout_ms,
              show_default=True, help="Wall-clock limit.")
@output_option(help="How to print the outputs.")
def run_cmd(agent: str, workspace: str, inputs: tuple[str, ...], fuel: int,
            memory_mb: int | None, timeout_ms: int, fmt: str) -> None:
    """Run AGENT (NAME or NAME@VERSION) locally under wasmtime and print its output pins.

    The module gets exactly what the agent's capabilities grant: the listed environment
    variables (values from the agent's env, else from this shell), the listed directories,
    no network. Exit 0 when it succeeds, 1 when it fails, traps or hits a limit (fuel,
    memory, time), 2 on wrong usage.

    \b
    Examples:
      mentatctl wasm run uppercase --input text="hello"
      mentatctl wasm run wordcount@1.0.0 -i text=@README.md --format json
      mentatctl wasm run greeter --fuel 1000000 --timeout-ms 200
    """
    root = workspace_root(workspace)
    loaded = load(root)
    validated = validate(loaded)
    spec = _pick(fmt, agent, validated.agents, [*loaded.diagnostics, *validated.diagnostics])
    values = _inputs(spec, inputs)
    memory = memory_mb * 2**20 if memory_mb else memory_limit_for(spec)
    limits = Limits(fuel=fuel, memory_bytes=memory, timeout_ms=timeout_ms)
    watchdog = _watchdog(fmt, spec, timeout_ms)
    try:
        result, diags = run_agent(spec, root, values, limits)
    finally:
        watchdog.cancel()
    if result is None:
        _fail(fmt, spec, diags)
    if fmt in DOCUMENT_FORMATS:
        emit(fmt, {"ok": result.ok, "agent": spec.key, **result.to_dict(), "diagnostics": []})
    elif result.ok:  # text: the outputs, as JSON
        emit(fmt, text=json.dumps(result.outputs, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        if result.stderr:  # the agent's own words, even with -q: they say why it failed
            notice(result.stderr.decode("utf-8", "replace").rstrip("\n"))
        error(f"{spec.key}: {result.status}: {result.message}")
    raise SystemExit(0 if result.ok else 1)


WATCHDOG_GRACE_S = 1.0  # past the deadline, beyond what compiling the module may take


def _watchdog(fmt: str, spec: AgentSpec, timeout_ms: int) -> threading.Timer:
    """The wall-clock limit for any wait the sandbox cannot interrupt (a host call blocked
    on a FIFO in a granted directory, say): report the timeout and end the process."""

    def fire() -> None:
        message = f"wall-clock limit of {timeout_ms} ms exceeded (blocked in a host call)"
        if fmt in DOCUMENT_FORMATS:  # the keys of a finished run's document, in its order
            emit(fmt, {"ok": False, "agent": spec.key, "status": "timeout", "message": message,
                       "outputs": None, "diagnostics": []})
        else:
            error(f"{spec.key}: timeout: {message}")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)  # the blocked thread cannot be stopped; the process can

    timer = threading.Timer(timeout_ms / 1000 + WATCHDOG_GRACE_S, fire)
    timer.daemon = True
    timer.start()
    return timer


def _fail(fmt: str, spec: AgentSpec, diags: list[Diagnostic]) -> NoReturn:
    emit(fmt, {"agent": spec.key}, diagnostics=diags, ok=False)
    raise SystemExit(1)


def _pick(fmt: str, ref: str, agents: list[AgentSpec], diags: list[Diagnostic]) -> AgentSpec:
    name, _, version = ref.partition("@")
    matches = [a for a in agents if a.name == name and (not version or a.version == version)]
    if not matches:
        wasm_agents = sorted({a.key for a in agents if a.runtime == "wasm"})
        hint = f"wasm agents: {', '.join(wasm_agents)}" if wasm_agents else "no wasm agents"
        errors = [d for d in diags if d.severity == "error"]
        if errors:  # it may be one of the documents that failed: a workspace problem, exit 1
            emit(fmt, {"agent": ref}, diagnostics=errors, ok=False)
            if fmt not in DOCUMENT_FORMATS:
                error(f"no valid agent {ref!r} in the workspace ({hint})")
            raise SystemExit(1)
        raise click.UsageError(f"no agent {ref!r} in the workspace ({hint})")
    spec = max(matches, key=lambda a: semantic_version.Version(a.version))
    if spec.runtime != "wasm":
        raise click.UsageError(f"agent {spec.key} is a {spec.runtime} agent, not wasm")
    return spec


def _inputs(spec: AgentSpec, pairs: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        pin_name, sep, raw = pair.partition("=")
        pin = spec.input(pin_name)
        if not sep or pin is None:
            names = ", ".join(p.name for p in spec.inputs) or "none"
            raise click.UsageError(f"--input {pair!r}: expected PIN=VALUE, pins: {names}")
        if raw.startswith("@"):
            try:
                raw = Path(raw[1:]).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise click.UsageError(f"--input {pin_name}: cannot read {raw[1:]}: {e}") from e
        if pin.type == "json":
            try:
                values[pin_name] = json.loads(raw)
            except ValueError as e:
                raise click.UsageError(f"--input {pin_name} is a json pin: {e}") from e
        else:
            values[pin_name] = raw
    missing = [p.name for p in spec.inputs if p.name not in values]
    if missing:
        raise click.UsageError(f"missing --input for pin(s): {', '.join(missing)}")
    return values
