"""The one wasmtime engine configuration shared by validation, precompilation and running.

A precompiled module is only valid for an engine with exactly the settings it was compiled
with, on the same wasmtime version and target, so all three live here and are part of the
label a precompiled artifact carries (`engine_label`).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from functools import lru_cache
from importlib.metadata import version

import wasmtime

__all__ = ["ENGINE_SETTINGS", "EngineLabel", "engine_label", "new_engine", "shared_engine"]

# Fuel and epoch interruption change the generated code: they are part of the label.
ENGINE_SETTINGS: dict[str, object] = {
    "consume_fuel": True,
    "epoch_interruption": True,
    "cranelift_opt_level": "speed",
    "max_wasm_stack": 512 * 1024,
    "wasm_threads": False,
    "shared_memory": False,
}

EngineLabel = dict[str, str]


def new_engine() -> wasmtime.Engine:
    cfg = wasmtime.Config()
    for key, value in ENGINE_SETTINGS.items():
        setattr(cfg, key, value)
    # the compilation cache stays off (the default): nothing is written outside the output tree
    return wasmtime.Engine(cfg)


@lru_cache(maxsize=1)
def shared_engine() -> wasmtime.Engine:
    """One engine per process: compiling is expensive, engines are thread-safe."""
    return new_engine()


@lru_cache(maxsize=1)
def engine_label() -> EngineLabel:
    """What a precompiled artifact must match to be used: version, target, settings."""
    settings = json.dumps(ENGINE_SETTINGS, sort_keys=True, separators=(",", ":"))
    return {
        "wasmtime": version("wasmtime"),
        "target": f"{platform.machine().lower()}-{sys.platform}",
        "settings": "sha256:" + hashlib.sha256(settings.encode()).hexdigest(),
    }
