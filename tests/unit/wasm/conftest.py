"""Helpers for the wasm tests: agents built from real YAML files in a temporary workspace."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.load import parse_yaml
from compiler.model import AgentSpec, Pin, RawDoc, Workspace
from compiler.validate import workspace_spec

REPO = Path(__file__).resolve().parents[3]


def agent_from_file(root: Path, rel: str) -> AgentSpec:
    """An AgentSpec as validate builds it (module resolved relative to the agent file)."""
    docs, diags = parse_yaml(rel, (root / rel).read_bytes())
    assert not diags, diags
    doc = docs[0]
    meta, spec = doc.data["metadata"], doc.data["spec"]
    module = spec.get("module")
    if module:
        module = posixpath.normpath(posixpath.join(posixpath.dirname(rel), module))

    def pins(key: str) -> tuple[Pin, ...]:
        return tuple(Pin(p["name"], p["type"], p.get("stream", False)) for p in spec.get(key, []))

    return AgentSpec(
        name=meta["name"],
        version=meta["version"],
        runtime=spec["runtime"],
        image=spec.get("image"),
        module=module,
        inputs=pins("inputs"),
        outputs=pins("outputs"),
        resources=dict(spec.get("resources", {})),
        env=tuple((e["name"], e["value"]) for e in spec.get("env", [])),
        secrets=(),
        capabilities=dict(spec.get("capabilities", {})),
        labels={},
        annotations={},
        doc=doc,
    )


def write_agent(
    root: Path,
    module: str | bytes,
    *,
    name: str = "probe",
    version: str = "1.0.0",
    module_name: str = "probe.wat",
    capabilities: dict[str, Any] | None = None,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    env: list[dict[str, str]] | None = None,
    resources: dict[str, Any] | None = None,
) -> AgentSpec:
    """Write agents/<name>.yaml and its module, and return the agent."""
    d = root / "agents"
    d.mkdir(parents=True, exist_ok=True)
    (d / module_name).write_bytes(module.encode() if isinstance(module, str) else module)
    doc = {
        "apiVersion": "mentatlab.io/v1",
        "kind": "Agent",
        "metadata": {"name": name, "version": version},
        "spec": {
            "runtime": "wasm",
            "module": module_name,
            "capabilities": capabilities or {"network": False, "env": [], "files": []},
            "inputs": inputs if inputs is not None else [],
            "outputs": outputs if outputs is not None else [{"name": "out", "type": "json"}],
            "resources": resources or {"cpu": "10m", "memory": "16Mi"},
            "env": env or [],
        },
    }
    rel = f"agents/{name}.yaml"
    (root / rel).write_text(yaml.safe_dump(doc, sort_keys=False))
    return agent_from_file(root, rel)


def workspace(root: Path, agents: tuple[AgentSpec, ...]) -> Workspace:
    doc = RawDoc("mentat.yaml", 0, {"metadata": {"name": "test"},
                                    "spec": {"sources": ["agents/"], "environments": []}})
    spec = workspace_spec(doc)
    return Workspace(str(root), spec, tuple(sorted(agents, key=lambda a: (a.name, a.version))), ())


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def make_agent(tmp_path: Path) -> Any:
    def make(module: str | bytes, **kw: Any) -> AgentSpec:
        return write_agent(tmp_path, module, **kw)

    return make


@pytest.fixture
def load_agent() -> Any:
    return agent_from_file


@pytest.fixture
def make_workspace() -> Any:
    return workspace
