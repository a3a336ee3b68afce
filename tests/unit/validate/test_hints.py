"""Hints where a user needs them: a version YAML read as a number is to be quoted; a digest
that is not 64 hex characters is malformed (not "not pinned", and not a "latest" tag)."""

from __future__ import annotations

from pathlib import Path

from compiler.pipeline import compile_workspace
from tests.conftest import AGENTS, DIGEST, WORKSPACE


def test_a_float_version_is_to_be_quoted(make_ws) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_ws(agents=AGENTS.replace("version: 1.2.0", "version: 2.1"))
    (d,) = compile_workspace(root).diagnostics
    assert d.code == "M204" and d.message == "metadata.version: expected string, got float"
    assert d.hint == 'YAML reads 2.1 as a number: quote a full semantic version, e.g. version: "2.1.0"'


def test_a_float_kubernetes_version_is_to_be_quoted(make_ws) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_ws(workspace=WORKSPACE + "  kubernetesVersion: 1.31\n")
    (d,) = compile_workspace(root).diagnostics
    assert d.code == "M201" and d.file == "mentat.yaml" and "got float" in d.message
    assert "YAML reads 1.31 as a number: quote it" in d.hint


def test_a_malformed_digest_is_malformed(make_ws) -> None:  # type: ignore[no-untyped-def]
    root: Path = make_ws(agents=AGENTS.replace(f"fetcher@sha256:{DIGEST}", "fetcher@sha256:abc123"))
    diags = [d for d in compile_workspace(root).diagnostics if d.file == "flows/agents.yaml"]
    assert [(d.code, d.line, d.col) for d in diags] == [("M400", 6, 10)]
    assert "has a malformed digest: a digest is @sha256: and 64 lowercase hex" in diags[0].message
    assert "not pinned" not in diags[0].message
