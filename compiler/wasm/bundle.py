"""Package a checked module as an OCI image layout, and read one back.

Layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md), following the
CNCF wasm OCI artifact convention that runwasi's containerd shims understand:

    oci-layout                    {"imageLayoutVersion": "1.0.0"}
    index.json                    the image manifest (+ the precompiled artifact, if any)
    blobs/sha256/<hex>            manifest, config, module layer, ...

The image manifest has one layer, the module itself (`application/vnd.wasm.content.layer.v1+wasm`)
and a config blob (`application/vnd.wasm.config.v0+json`) carrying the agent's pins and
capabilities. Its digest is what Deployments reference. Every blob is canonical JSON (sorted
keys, no whitespace) or the module's bytes, so the same agent and module give the same bytes
and digest on every machine.

A precompiled module (wasmtime `Module.serialize`) is machine-specific, so it never touches the
image manifest: it is a second manifest in index.json whose `subject` is the image manifest,
labelled with the wasmtime version, target and engine settings it was built for. A reader uses
it only when every label and digest matches its own engine, and otherwise compiles the module
layer; it is trusted code, so only bundles whose files match a verified index are loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wasmtime

from compiler.model import WasmBundle
from compiler.model.spec import AgentSpec
from compiler.wasm.engine import EngineLabel, engine_label, shared_engine
from compiler.wasm.module import Capabilities, CheckedModule, check_compiled, check_module

__all__ = [
    "ABI",
    "CONFIG_MEDIA_TYPE",
    "LAYER_MEDIA_TYPE",
    "PRECOMPILED_ARTIFACT_TYPE",
    "BundleError",
    "OpenedBundle",
    "build_bundle",
    "bundle_dir",
    "module_from_bundle",
    "open_bundle",
    "read_bundle_dir",
]

ABI = "mentatlab.io/wasm-agent/v1"
OCI_LAYOUT = "oci-layout"
INDEX = "index.json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.wasm.config.v0+json"
LAYER_MEDIA_TYPE = "application/vnd.wasm.content.layer.v1+wasm"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
PRECOMPILED_ARTIFACT_TYPE = "application/vnd.mentatlab.wasm.precompiled.v1"
PRECOMPILED_MEDIA_TYPE = "application/vnd.mentatlab.wasm.precompiled.v1+cwasm"
_LABEL = "io.mentatlab.wasmtime."  # + version / target / settings
_MODULE_DIGEST = "io.mentatlab.module.digest"
_MAX_BLOBS = 16  # a layout of ours has at most 6; more is not ours


class BundleError(Exception):
    """A bundle on disk is not one of ours or does not match its own digests."""


@dataclass(frozen=True, slots=True)
class OpenedBundle:
    digest: str  # of the image manifest
    module: bytes
    module_digest: str
    config: dict[str, Any]
    precompiled: bytes | None  # only when its labels match this engine exactly
    precompiled_note: str  # why a present artifact was not used ("" when used or absent)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities.from_spec(self.config.get("agent", {}).get("capabilities"))


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data), **extra}


def _pins(pins: Any) -> list[dict[str, Any]]:
    return [{"name": p.name, "type": p.type, "stream": p.stream} for p in pins]


def bundle_dir(agent: AgentSpec) -> str:
    return f"bundles/{agent.name}-{agent.version}"


def build_bundle(
    agent: AgentSpec, module: CheckedModule, *, precompile: bool = False
) -> WasmBundle:
    """The agent version's OCI layout as files (relative to `WasmBundle.path`)."""
    caps = Capabilities.from_spec(agent.capabilities)
    layer = module.wasm
    config = _canonical(
        {
            "architecture": "wasm",
            "os": "wasip1",
            "layerDigests": [module.digest],
            "agent": {
                "abi": ABI,
                "name": agent.name,
                "version": agent.version,
                "inputs": _pins(agent.inputs),
                "outputs": _pins(agent.outputs),
                "capabilities": caps.to_dict(),
                "imports": list(module.imports),
            },
        }
    )
    manifest = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": _descriptor(CONFIG_MEDIA_TYPE, config),
            "layers": [
                _descriptor(
                    LAYER_MEDIA_TYPE,
                    layer,
                    annotations={"org.opencontainers.image.title": "module.wasm"},
                )
            ],
            "annotations": {
                "org.opencontainers.image.title": agent.name,
                "org.opencontainers.image.version": agent.version,
                "io.mentatlab.abi": ABI,
            },
        }
    )
    blobs = {_digest(b): b for b in (config, manifest, layer)}
    manifests = [
        _descriptor(
            MANIFEST_MEDIA_TYPE,
            manifest,
            annotations={"org.opencontainers.image.ref.name": agent.version},
        )
    ]
    if precompile:
        manifests.append(_precompiled(module, manifest, blobs))
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": manifests}
    files = {
        OCI_LAYOUT: _canonical({"imageLayoutVersion": "1.0.0"}) + b"\n",
        INDEX: json.dumps(index, sort_keys=True, indent=2).encode() + b"\n",
    }
    for digest, data in blobs.items():
        files["blobs/sha256/" + digest.removeprefix("sha256:")] = data
    return WasmBundle(
        agent_key=agent.key,
        digest=_digest(manifest),
        module_digest=module.digest,
        path=bundle_dir(agent),
        files=dict(sorted(files.items())),
    )


def _labels(label: EngineLabel, module_digest: str) -> dict[str, str]:
    out = {_LABEL + k: v for k, v in label.items()}
    out[_MODULE_DIGEST] = module_digest
    return out


def _precompiled(module: CheckedModule, manifest: bytes, blobs: dict[str, bytes]) -> dict[str, Any]:
    artifact = bytes(module.compiled.serialize())
    empty = b"{}"
    labels = _labels(engine_label(), module.digest)
    referrer = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": PRECOMPILED_ARTIFACT_TYPE,
            "config": _descriptor(EMPTY_MEDIA_TYPE, empty),
            "layers": [_descriptor(PRECOMPILED_MEDIA_TYPE, artifact)],
            "subject": _descriptor(MANIFEST_MEDIA_TYPE, manifest),
            "annotations": labels,
        }
    )
    for data in (artifact, empty, referrer):
        blobs[_digest(data)] = data
    return _descriptor(
        MANIFEST_MEDIA_TYPE, referrer, artifactType=PRECOMPILED_ARTIFACT_TYPE, annotations=labels
    )


def read_bundle_dir(path: Path) -> dict[str, bytes]:
    """A bundle directory's files, refusing anything that is not a plain file of a layout."""
    files: dict[str, bytes] = {}
    for rel in (OCI_LAYOUT, INDEX):
        files[rel] = _read_plain(path / rel)
    blob_dir = path / "blobs" / "sha256"
    names = sorted(p.name for p in blob_dir.iterdir()) if blob_dir.is_dir() else []
    if len(names) > _MAX_BLOBS:
        raise BundleError(f"{len(names)} blobs: not a bundle of ours")
    for name in names:
        files[f"blobs/sha256/{name}"] = _read_plain(blob_dir / name)
    return files


def _read_plain(p: Path) -> bytes:
    if p.is_symlink() or not p.is_file():
        raise BundleError(f"{p.name}: missing or not a regular file")
    return p.read_bytes()


def open_bundle(files: Mapping[str, bytes], label: EngineLabel | None = None) -> OpenedBundle:
    """Verify a bundle's digests and pick its parts; the precompiled one only on a full match."""
    label = label or engine_label()

    def blob(desc: Any) -> bytes:
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            raise BundleError("malformed descriptor")
        digest = desc["digest"]
        data = files.get("blobs/sha256/" + digest.removeprefix("sha256:"))
        if data is None or _digest(data) != digest or len(data) != desc.get("size"):
            raise BundleError(f"blob {digest} missing or does not match its digest")
        return data

    try:
        index = json.loads(files[INDEX])
        manifests = index["manifests"]
        images = [m for m in manifests if "artifactType" not in m]
        if len(images) != 1:
            raise BundleError("index.json must hold exactly one image manifest")
        manifest_bytes = blob(images[0])
        manifest = json.loads(manifest_bytes)
        config = json.loads(blob(manifest["config"]))
        layers = [x for x in manifest["layers"] if x.get("mediaType") == LAYER_MEDIA_TYPE]
        if manifest["config"].get("mediaType") != CONFIG_MEDIA_TYPE or len(layers) != 1:
            raise BundleError("not a wasm agent image (config or layer media type)")
        module = blob(layers[0])
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"malformed bundle: {e}") from e
    digest = _digest(manifest_bytes)
    module_digest = _digest(module)
    precompiled, note = None, ""
    for desc in manifests:
        if desc.get("artifactType") != PRECOMPILED_ARTIFACT_TYPE:
            continue
        precompiled, note = _pick_precompiled(desc, blob, digest, module_digest, label)
        if precompiled is not None:
            break
    return OpenedBundle(digest, module, module_digest, config, precompiled, note)


def _pick_precompiled(
    desc: dict[str, Any], blob: Any, digest: str, module_digest: str, label: EngineLabel
) -> tuple[bytes | None, str]:
    want = _labels(label, module_digest)
    try:
        referrer = json.loads(blob(desc))
        got = referrer.get("annotations", {})
        if referrer.get("subject", {}).get("digest") != digest:
            return None, "precompiled artifact belongs to another image"
        for key, value in want.items():
            if got.get(key) != value:
                return None, (
                    f"precompiled artifact ignored: {key} is {got.get(key)!r}, "
                    f"this engine needs {value!r}"
                )
        (layer,) = referrer["layers"]
        return blob(layer), ""
    except (BundleError, KeyError, TypeError, ValueError) as e:
        return None, f"precompiled artifact ignored: {e}"


def module_from_bundle(
    opened: OpenedBundle, engine: wasmtime.Engine | None = None
) -> tuple[wasmtime.Module, bool]:
    """The runnable module and whether the precompiled artifact was used.

    The bundle's own capabilities are re-checked against the module either way, so a bundle
    edited after compiling cannot widen what its module may import.
    """
    engine = engine or shared_engine()
    caps = opened.capabilities
    if opened.precompiled is not None:
        try:
            compiled = wasmtime.Module.deserialize(engine, opened.precompiled)
        except wasmtime.WasmtimeError:
            compiled = None  # built for another engine after all: compile the module instead
        if compiled is not None:
            problems = check_compiled(compiled, caps)
            if problems:
                raise BundleError(problems[0].message)
            return compiled, True
    checked, problems = check_module(opened.module, caps, engine)
    if checked is None:
        raise BundleError(problems[0].message)
    return checked.compiled, False
