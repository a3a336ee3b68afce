"""The CLI's commands beyond `validate` and `compile`, imported only when used (`compile`
should not pay for cryptography, sigstore, wasmtime or rich tables at start-up).

To add a command: write `compiler/commands/<family>.py` with a click command or group and add
one line here, `"name": "module:attribute"`. The CLI gives every command -q/-v; a command
that prints data takes `compiler.output.output_option()` and prints data and diagnostics with
`emit()` (its own text form, if any, handed over as `text=`). Commands never import
`compiler.cli` (an import-linter contract in pyproject.toml): what they share with it, such
as `workspace_root`, lives in `compiler.output`.
"""

COMMANDS: dict[str, str] = {
    "apply": "compiler.commands.apply:apply",
    "audit": "compiler.commands.apply:audit",
    "catalog": "compiler.commands.catalog:catalog",
    "completion": "compiler.commands.completion:completion",
    "controller": "compiler.commands.apply:controller",
    "cost": "compiler.commands.cost:cost",
    "diff": "compiler.commands.diff:diff",
    "explain": "compiler.commands.explain:explain",
    "graph": "compiler.commands.graph:graph",
    "init": "compiler.commands.scaffold:init",
    "migrate": "compiler.commands.migrate:migrate",
    "new": "compiler.commands.scaffold:new",
    "pki": "compiler.commands.sign:pki",
    "policy": "compiler.commands.policy:policy",
    "schema": "compiler.commands.explain:schema",
    "sign": "compiler.commands.sign:sign",
    "verify": "compiler.commands.sign:verify",
    "verify-attestation": "compiler.commands.apply:verify_attestation",
    "version": "compiler.commands.version:version",
    "wasm": "compiler.commands.wasm:wasm",
}
