"""-o yaml carries exactly the document -o json does, for every command in compiler/commands
that prints one (on success; failures are in test_diagnostics_streams.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.output.conftest import Run

COMMANDS: dict[str, list[str]] = {
    "cost": ["cost", "-w", "{ws}"],
    "cost --env": ["cost", "-w", "{ws}", "--env", "staging"],
    "graph": ["graph", "news-digest", "-w", "{ws}"],
    "catalog": ["catalog", "-w", "{ws}"],
    "explain": ["explain", "Agent.spec.inputs"],
    "schema export": ["schema", "export", "{tmp}/schemas"],
    "migrate": ["migrate", "--check", "-w", "{ws}"],
    "wasm run": ["wasm", "run", "wordcount", "-i", "text=one two", "-w", "{ws}"],
    "version": ["version"],
    "policy list": ["policy", "list"],
    "policy test": ["policy", "test"],
    "new agent": ["new", "agent", "{fmt}", "--runtime", "wasm", "-w", "{ws}"],
    "new flow": ["new", "flow", "{fmt}", "--agent", "wordcount", "-w", "{ws}"],
    "init": ["init", "{tmp}/{fmt}"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_yaml_is_the_json_document(run: Run, ws: Path, tmp_path: Path, name: str) -> None:
    docs = {}
    for fmt in ("json", "yaml"):
        args = [a.format(ws=ws, tmp=tmp_path, fmt=f"made-by-{fmt}") for a in COMMANDS[name]]
        r = run(*args, "-o", fmt)
        assert r.exit_code == 0 and r.stderr == "", r.output
        docs[fmt] = json.loads(r.stdout) if fmt == "json" else yaml.safe_load(r.stdout)
    if name in ("new agent", "new flow", "init"):  # each made its own files
        for doc in docs.values():
            doc["created"] = [c.replace("made-by-yaml", "made-by-json") for c in doc["created"]]
            doc["root"] = doc["root"].replace("made-by-yaml", "made-by-json")
    assert docs["yaml"] == docs["json"]
