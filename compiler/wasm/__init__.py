"""WASM agents: module checks against the agent ABI, OCI bundles, and a sandboxed runner.

See README.md in this package for the agent ABI and the bundle layout.
"""

from compiler.wasm.bundle import BundleError, OpenedBundle, build_bundle, open_bundle
from compiler.wasm.module import Capabilities, CheckedModule, ModuleProblem, read_module
from compiler.wasm.run import Runner
from compiler.wasm.sandbox import Limits, RunResult, Sandbox
from compiler.wasm.stage import build_bundles, check_agent_module

__all__ = [
    "BundleError",
    "Capabilities",
    "CheckedModule",
    "Limits",
    "ModuleProblem",
    "OpenedBundle",
    "RunResult",
    "Runner",
    "Sandbox",
    "build_bundle",
    "build_bundles",
    "check_agent_module",
    "open_bundle",
    "read_module",
]
