"""OCI bundles: layout, determinism, digests, and the precompiled artifact's strict matching."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import wasmtime

from compiler.wasm.bundle import (
    CONFIG_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    PRECOMPILED_ARTIFACT_TYPE,
    BundleError,
    build_bundle,
    module_from_bundle,
    open_bundle,
    read_bundle_dir,
)
from compiler.wasm.engine import engine_label, new_engine
from compiler.wasm.module import Capabilities, read_module
from compiler.wasm.run import Runner

WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $e (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{\\"out\\": 7}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64)) (i32.store (i32.const 4) (i32.const 10))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"""
CAPS = {"network": False, "env": ["MODEL"], "files": []}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def agent(make_agent: Any) -> Any:
    return make_agent(WAT, name="echo", version="1.2.3", capabilities=CAPS,
                      inputs=[{"name": "text", "type": "text"}])


def bundle_of(agent: Any, precompile: bool = False) -> Any:
    checked, problems = read_module("m.wat", WAT.encode(), Capabilities.from_spec(CAPS))
    assert checked is not None, problems
    return build_bundle(agent, checked, precompile=precompile)


def test_layout(agent: Any) -> None:
    b = bundle_of(agent)
    assert b.agent_key == "echo@1.2.3" and b.path == "bundles/echo-1.2.3"
    assert json.loads(b.files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(b.files["index.json"])
    (desc,) = index["manifests"]
    assert desc["digest"] == b.digest
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "1.2.3"
    for rel, data in b.files.items():  # every blob is named by its own digest
        if rel.startswith("blobs/"):
            assert rel == "blobs/sha256/" + hashlib.sha256(data).hexdigest()
    manifest = json.loads(b.files["blobs/sha256/" + b.digest[7:]])
    assert manifest["config"]["mediaType"] == CONFIG_MEDIA_TYPE
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == LAYER_MEDIA_TYPE and layer["digest"] == b.module_digest
    module = b.files["blobs/sha256/" + b.module_digest[7:]]
    assert module.startswith(b"\0asm") and sha(module) == b.module_digest
    config = json.loads(b.files["blobs/sha256/" + manifest["config"]["digest"][7:]])
    assert config["architecture"] == "wasm" and config["layerDigests"] == [b.module_digest]
    assert config["agent"]["capabilities"] == CAPS
    assert config["agent"]["inputs"] == [{"name": "text", "type": "text", "stream": False}]
    assert config["agent"]["outputs"] == [{"name": "out", "type": "json", "stream": False}]
    assert config["agent"]["imports"] == ["environ_get", "fd_write"]


def test_same_input_same_bytes(agent: Any) -> None:
    first, second = bundle_of(agent), bundle_of(agent)
    assert first == second and first.files == second.files
    assert list(first.files) == sorted(first.files)


# The image digest of `agent` below. It changes only when the bundle format, the agent's pins
# or capabilities, or wasmtime's WAT assembler change; then rendered/ drifts too. Update it on
# purpose, never to make the test pass.
GOLDEN_DIGEST = "sha256:deffd4b60617ede09d2e2adf8abdd2e827498984fb2da07c2cc5b2bd781ceee9"


def test_digest_is_stable(agent: Any, tmp_path: Path) -> None:
    b = bundle_of(agent)
    assert b.digest == GOLDEN_DIGEST
    # a fresh process (fresh engine, hash seed, ...) builds the very same bytes
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from compiler.load import parse_yaml\n"
        "from compiler.wasm.stage import check_agent_module\n"
        "from compiler.wasm.bundle import build_bundle\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from conftest import agent_from_file\n"
        f"root = Path({str(tmp_path)!r})\n"
        "a = agent_from_file(root, 'agents/echo.yaml')\n"
        "checked, diags = check_agent_module(root, a)\n"
        "print(json.dumps({k: v.hex() for k, v in build_bundle(a, checked).files.items()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"}, cwd=Path(__file__).parents[3],
    ).stdout
    assert {k: bytes.fromhex(v) for k, v in json.loads(out).items()} == b.files


def test_digest_changes_with_pins_and_capabilities(make_agent: Any, agent: Any) -> None:
    wider = {**CAPS, "env": ["MODEL", "X"]}
    other = make_agent(WAT, name="echo", version="1.2.3", capabilities=wider,
                       inputs=[{"name": "text", "type": "text"}])
    a, b = bundle_of(agent), bundle_of(other)
    assert a.module_digest == b.module_digest and a.digest != b.digest


def test_precompiled_artifact_is_used_when_it_matches(agent: Any) -> None:
    plain, pre = bundle_of(agent), bundle_of(agent, precompile=True)
    assert pre.digest == plain.digest  # the image never depends on the machine
    index = json.loads(pre.files["index.json"])
    assert [m.get("artifactType") for m in index["manifests"]] == [None, PRECOMPILED_ARTIFACT_TYPE]
    labels = index["manifests"][1]["annotations"]
    assert labels["io.mentatlab.wasmtime.wasmtime"] == engine_label()["wasmtime"]
    assert labels["io.mentatlab.wasmtime.target"] == engine_label()["target"]
    opened = open_bundle(pre.files)
    assert opened.precompiled is not None and opened.precompiled_note == ""
    module, used = module_from_bundle(opened)
    assert used
    assert Runner().run(module, {}).outputs == {"out": 7}


@pytest.mark.parametrize("key", ["wasmtime", "target", "settings"])
def test_precompiled_artifact_ignored_on_label_mismatch(agent: Any, key: str) -> None:
    pre = bundle_of(agent, precompile=True)
    label = {**engine_label(), key: "something-else"}
    opened = open_bundle(pre.files, label)
    assert opened.precompiled is None and key in opened.precompiled_note
    engine = new_engine()
    module, used = module_from_bundle(opened, engine)
    assert not used
    assert Runner(engine).run(module, {}).outputs == {"out": 7}


def test_precompiled_artifact_refused_by_wasmtime_falls_back(agent: Any) -> None:
    # Labels forged to match, but the bytes were built for another engine configuration:
    # wasmtime's own check refuses them and the module layer is compiled instead.
    pre = bundle_of(agent, precompile=True)
    other = wasmtime.Engine()  # no fuel, no epochs: incompatible artifacts
    foreign = bytes(wasmtime.Module(other, WAT).serialize())
    files = _swap_precompiled(pre.files, foreign)
    opened = open_bundle(files)
    assert opened.precompiled == foreign
    module, used = module_from_bundle(opened)
    assert not used
    assert Runner().run(module, {}).outputs == {"out": 7}


def test_tampered_precompiled_blob_is_ignored(agent: Any) -> None:
    pre = bundle_of(agent, precompile=True)
    index = json.loads(pre.files["index.json"])
    referrer = json.loads(pre.files["blobs/sha256/" + index["manifests"][1]["digest"][7:]])
    rel = "blobs/sha256/" + referrer["layers"][0]["digest"][7:]
    files = {**pre.files, rel: b"\x90" * len(pre.files[rel])}
    opened = open_bundle(files)
    assert opened.precompiled is None and "does not match" in opened.precompiled_note


def test_tampered_module_blob_is_an_error(agent: Any) -> None:
    b = bundle_of(agent)
    rel = "blobs/sha256/" + b.module_digest[7:]
    with pytest.raises(BundleError, match="does not match"):
        open_bundle({**b.files, rel: b.files[rel] + b"\0"})


@pytest.mark.parametrize("broken", ["index.json", "manifest"])
def test_malformed_bundles(agent: Any, broken: str) -> None:
    b = bundle_of(agent)
    files = dict(b.files)
    if broken == "index.json":
        files["index.json"] = b"{not json"
    else:
        files["index.json"] = json.dumps({"manifests": []}).encode()
    with pytest.raises(BundleError):
        open_bundle(files)


def test_bundle_cannot_widen_capabilities(make_agent: Any) -> None:
    # A bundle whose config drops the env grant its module needs is refused at load.
    agent = make_agent(WAT, name="narrow", capabilities={"env": []})
    checked, _ = read_module("m.wat", WAT.encode(), Capabilities(env=("MODEL",)))
    assert checked is not None
    b = build_bundle(agent, checked)
    with pytest.raises(BundleError, match="environ_get"):
        module_from_bundle(open_bundle(b.files))


def test_read_bundle_dir_round_trip(agent: Any, tmp_path: Path) -> None:
    b = bundle_of(agent, precompile=True)
    for rel, data in b.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    assert read_bundle_dir(tmp_path) == b.files
    (tmp_path / "index.json").unlink()
    (tmp_path / "index.json").symlink_to(tmp_path / "oci-layout")
    with pytest.raises(BundleError):
        read_bundle_dir(tmp_path)


def _swap_precompiled(files: dict[str, bytes], artifact: bytes) -> dict[str, bytes]:
    """Rebuild the referrer around another artifact, keeping every digest consistent."""
    files = dict(files)
    index = json.loads(files["index.json"])
    desc = index["manifests"][1]
    referrer = json.loads(files.pop("blobs/sha256/" + desc["digest"][7:]))
    files.pop("blobs/sha256/" + referrer["layers"][0]["digest"][7:])
    referrer["layers"][0].update(digest=sha(artifact), size=len(artifact))
    files["blobs/sha256/" + sha(artifact)[7:]] = artifact
    raw = json.dumps(referrer, sort_keys=True, separators=(",", ":")).encode()
    files["blobs/sha256/" + sha(raw)[7:]] = raw
    desc.update(digest=sha(raw), size=len(raw))
    files["index.json"] = json.dumps(index).encode()
    return files


def test_precompiled_artifact_for_another_image_is_ignored(make_agent: Any, agent: Any) -> None:
    # a referrer whose subject is some other image (copied from another bundle) is not used
    other = make_agent(WAT, name="other", version="9.9.9", capabilities=CAPS)
    mine, theirs = bundle_of(agent), bundle_of(other, precompile=True)
    index = json.loads(mine.files["index.json"])
    their_index = json.loads(theirs.files["index.json"])
    index["manifests"].append(their_index["manifests"][1])
    files = {**theirs.files, **mine.files, "index.json": json.dumps(index).encode()}
    opened = open_bundle(files)
    assert opened.digest == mine.digest
    assert opened.precompiled is None and "another image" in opened.precompiled_note


def test_too_many_blobs_is_not_a_bundle(agent: Any, tmp_path: Path) -> None:
    b = bundle_of(agent)
    for rel, data in b.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    for i in range(20):
        (tmp_path / "blobs/sha256" / f"{i:064x}").write_bytes(b"x")
    with pytest.raises(BundleError, match="not a bundle"):
        read_bundle_dir(tmp_path)
