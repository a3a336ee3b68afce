"""End to end: compiled workloads reference exactly the bundle in the output tree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import wasmtime
import yaml

from compiler.pipeline import compile_workspace

REPO = Path(__file__).resolve().parents[3]
WORKLOADS = {"Deployment", "CronJob", "Job"}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def wasm_workloads(files: dict[str, bytes]) -> list[dict[str, Any]]:
    out = []
    for path, content in sorted(files.items()):
        if not path.endswith(".yaml") or path.startswith("bundles/"):
            continue
        obj = yaml.safe_load(content)
        if obj.get("kind") in WORKLOADS and "runtimeClassName" in pod_spec(obj)["spec"]:
            out.append(obj)
    return out


def check_references(files: dict[str, bytes], root: Path) -> dict[str, str]:
    """Every wasm workload's image digest is its bundle's manifest, whose layer is the module
    compiled from source and whose digest the pod annotation repeats. Returns kind counts."""
    index = json.loads(files["index.json"])
    listed = {f["path"]: f["sha256"] for f in index["files"]}
    kinds: dict[str, str] = {}
    workloads = wasm_workloads(files)
    assert workloads
    for obj in workloads:
        labels = obj["metadata"]["labels"]
        agent, version = labels["mentatlab.io/agent"], labels["mentatlab.io/version"]
        template = pod_spec(obj)
        (container,) = template["spec"]["containers"]
        image = container["image"]
        assert image.startswith(f"ghcr.io/mentatlab/{agent}@sha256:")
        digest = image.split("@", 1)[1]
        bundle = f"bundles/{agent}-{version}"
        oci_index = json.loads(files[f"{bundle}/index.json"])
        assert [m["digest"] for m in oci_index["manifests"]] == [digest]
        manifest_path = f"{bundle}/blobs/sha256/{digest[7:]}"
        manifest_bytes = files[manifest_path]
        assert "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() == digest
        assert listed[manifest_path] == digest[7:]  # index.json records the very digest
        (layer,) = json.loads(manifest_bytes)["layers"]
        assert template["metadata"]["annotations"]["mentatlab.io/module-digest"] == layer["digest"]
        module = files[f"{bundle}/blobs/sha256/{layer['digest'][7:]}"]
        agent_doc = yaml.safe_load((root / f"flows/wasm/{agent}.yaml").read_text())
        source = (root / "flows/wasm" / agent_doc["spec"]["module"]).read_text()
        assert module == bytes(wasmtime.wat2wasm(source))
        assert template["spec"]["runtimeClassName"] == "wasmtime"
        kinds[f"{obj['kind']}/{obj['metadata']['name']}"] = digest
    return kinds


def test_example_workspace_workloads_reference_their_bundles() -> None:
    result = compile_workspace(REPO)
    assert result.ok, result.diagnostics
    kinds = check_references(result.files, REPO)
    assert any(k.startswith("Deployment/") for k in kinds)
    assert any(k.startswith("CronJob/") for k in kinds)
    runtime_classes = [p for p in result.files if p.endswith("runtimeclass-wasmtime.yaml")]
    assert runtime_classes
    rc = yaml.safe_load(result.files[runtime_classes[0]])
    assert rc["handler"] == "wasmtime"
    index = json.loads(result.files["index.json"])
    sources = {s["path"] for s in index["sources"]}
    assert {"flows/wasm/uppercase.wat", "flows/wasm/greeter.wat"} <= sources


def test_committed_bundles_match_a_fresh_compile() -> None:
    result = compile_workspace(REPO)
    for path, content in result.files.items():
        if path.startswith("bundles/"):
            assert (REPO / "rendered" / path).read_bytes() == content, path


AGENT = """\
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: upper, version: 1.0.0}}
spec:
  runtime: wasm
  module: {module}
  capabilities: {{network: false, env: [], files: []}}
  inputs: [{{name: text, type: text}}]
  outputs: [{{name: upper, type: text}}]
  resources: {{cpu: 50m, memory: 32Mi}}
---
apiVersion: mentatlab.io/v1
kind: Agent
metadata: {{name: wordcount, version: 1.0.0}}
spec:
  runtime: wasm
  module: wordcount.wat
  capabilities: {{network: false, env: [], files: []}}
  inputs: [{{name: text, type: text}}]
  outputs: [{{name: words, type: json}}]
  resources: {{cpu: 50m, memory: 32Mi}}
"""
FLOW = """\
apiVersion: mentatlab.io/v1
kind: Flow
metadata: {name: shout, version: 0.1.0, labels: {owner: test-team}}
spec:
  mode: service
  nodes:
    - {id: fetch, agent: fetcher@^1.0}
    - {id: up, agent: upper@1.0.0}
    - {id: count, agent: wordcount@1.0.0}
  edges:
    - {from: fetch.articles, to: up.text}
    - {from: up.upper, to: count.text}
  overrides:
    prod: {nodes: {fetch: {replicas: 2}, up: {replicas: 2}, count: {replicas: 2}}}
"""


def wasm_ws(make_ws: Any, module: str = "upper.wat", upper_source: str | None = None) -> Path:
    upper = upper_source or (REPO / "flows/wasm/uppercase.wat").read_text()
    files = {
        "flows/wasm/agents.yaml": AGENT.format(module=module),
        "flows/wasm/upper.wat": upper,
        "flows/wasm/wordcount.wat": (REPO / "flows/wasm/wordcount.wat").read_text(),
        "flows/flow.yaml": FLOW,
    }
    return make_ws(files)


def test_changed_module_moves_every_reference(make_ws: Any) -> None:
    root = wasm_ws(make_ws)
    before = compile_workspace(root)
    assert before.ok, before.diagnostics
    wat = root / "flows/wasm/upper.wat"
    wat.write_text(wat.read_text() + "\n;; a comment changes nothing\n")
    same = compile_workspace(root)
    # comments do not reach the module: the same bytes everywhere but the sources' digests
    assert {k: v for k, v in same.files.items() if k != "index.json"} == {
        k: v for k, v in before.files.items() if k != "index.json"}
    wat.write_text(wat.read_text().replace("(i32.const 32)))))", "(i32.const 31)))))"))
    after = compile_workspace(root)
    assert after.ok, after.diagnostics
    old, new = check_local(before.files), check_local(after.files)
    assert old.keys() == new.keys()
    moved = {k for k in old if old[k] != new[k]}
    assert moved == {k for k in old if k.startswith("upper/")} and moved



def check_local(files: dict[str, bytes]) -> dict[str, str]:
    out = {}
    for obj in wasm_workloads(files):
        image = pod_spec(obj)["spec"]["containers"][0]["image"]
        digest = image.split("@", 1)[1]
        agent = obj["metadata"]["labels"]["mentatlab.io/agent"]
        manifest = files[f"bundles/{agent}-1.0.0/blobs/sha256/{digest[7:]}"]
        assert "sha256:" + hashlib.sha256(manifest).hexdigest() == digest
        out[f"{agent}/{obj['metadata']['name']}@{obj['metadata'].get('namespace')}"] = digest
    return out


def test_forbidden_import_fails_the_compile(make_ws: Any) -> None:
    evil = ('(module (import "env" "exec" (func (param i32)))\n'
            '  (memory (export "memory") 1) (func (export "_start")))\n')
    root = wasm_ws(make_ws, upper_source=evil)
    result = compile_workspace(root)
    assert not result.ok and result.files == {}
    (d,) = [d for d in result.diagnostics if d.severity == "error"]
    assert d.code == "M511" and "'env.exec'" in d.message
    assert (d.file, d.line) == ("flows/wasm/agents.yaml", 6)


def test_missing_module_fails_the_compile(make_ws: Any) -> None:
    root = wasm_ws(make_ws, module="gone.wat")
    result = compile_workspace(root)
    codes = [d.code for d in result.diagnostics if d.severity == "error"]
    assert codes == ["M310"]
    assert result.diagnostics[0].file == "flows/wasm/agents.yaml"
