"""From an agent's spec to its sandbox and limits: the granted variables and directories,
and `resources.memory` as a memory limit.

Apart from the runner because this is where the workspace (the agent's file, its `env`, the
host's environment for secrets) meets the sandbox; the runner itself knows only `Sandbox`
and `Limits`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from compiler.load import resolve_inside
from compiler.model.quantity import parse_quantity
from compiler.model.spec import AgentSpec
from compiler.wasm.module import Capabilities, parse_file_grant
from compiler.wasm.sandbox import DEFAULT_LIMITS, PAGE, FileGrant, Sandbox

__all__ = ["memory_limit_for", "resolve_env", "sandbox_for"]


def resolve_env(
    names: Sequence[str], spec_env: Mapping[str, str], host_env: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """Values for the granted variables: the agent's own `env`, else the host's (secrets)."""
    host = os.environ if host_env is None else host_env
    out = []
    for name in names:
        if name in spec_env:
            out.append((name, spec_env[name]))
        elif name in host:
            out.append((name, host[name]))
    return tuple(out)


def sandbox_for(
    agent: AgentSpec, root: Path, host_env: Mapping[str, str] | None = None
) -> tuple[Sandbox | None, list[str]]:
    """The sandbox an agent's capabilities grant: its listed variables and directories."""
    caps = Capabilities.from_spec(agent.capabilities)
    problems: list[str] = []
    dirs: list[FileGrant] = []
    base = Path(agent.doc.file).parent
    for entry in caps.files:
        parsed = parse_file_grant(entry)
        if isinstance(parsed, str):
            problems.append(parsed)
            continue
        rel, writable = parsed
        host = resolve_inside(root.resolve(), (base / rel).as_posix())
        if host is None or not host.is_dir():
            problems.append(f"file grant '{entry}': no directory {(base / rel).as_posix()} "
                            "inside the workspace")
            continue
        dirs.append(FileGrant(str(host), "/" + rel, writable))
    if problems:
        return None, problems
    env = resolve_env(caps.env, dict(agent.env), host_env)
    return Sandbox(env=env, dirs=tuple(dirs)), []


def memory_limit_for(agent: AgentSpec, default: int = DEFAULT_LIMITS.memory_bytes) -> int:
    """The agent's `resources.memory` in bytes (a Kubernetes quantity), else `default`.

    Clamped to wasm32's 4 GiB: linear memory cannot be larger anyway.
    """
    if "memory" not in agent.resources:
        return default
    try:
        value = int(parse_quantity(agent.resources["memory"]))
    except ValueError:  # validate's pattern is looser than the grammar: keep the default
        return default
    return max(PAGE, min(value, 4 * 2**30))
