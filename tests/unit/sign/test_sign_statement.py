"""The in-toto statement and its SLSA provenance predicate, and where build facts come from."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from compiler.sign.signer import prepare
from compiler.sign.statement import (
    BUILD_TYPE,
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    BuildContext,
    IndexFormatError,
    build_statement,
    canonical_json,
    detect_context,
    parse_index,
)
from tests.unit.sign.signkit import CTX, DEFAULT_FILES


def _statement(tree: Path, ctx: BuildContext = CTX) -> dict:
    return build_statement(parse_index((tree / "index.json").read_bytes()), ctx)


def test_subjects_are_every_indexed_file_plus_the_index(tree: Path) -> None:
    st = _statement(tree)
    assert st["_type"] == STATEMENT_TYPE and st["predicateType"] == PREDICATE_TYPE
    want = {p: hashlib.sha256(c).hexdigest() for p, c in DEFAULT_FILES.items()}
    want["index.json"] = hashlib.sha256((tree / "index.json").read_bytes()).hexdigest()
    got = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
    assert got == want
    assert [s["name"] for s in st["subject"]] == sorted(want)


def test_predicate_records_compiler_sources_and_commit(tree: Path) -> None:
    build = _statement(tree)["predicate"]["buildDefinition"]
    assert build["buildType"] == BUILD_TYPE
    assert build["externalParameters"] == {"workspace": "demo"}
    assert build["internalParameters"]["compiler"] == {"name": "mentatctl", "version": "0.1.0"}
    deps = build["resolvedDependencies"]
    assert deps[0] == {
        "uri": "git+https://github.com/acme/flows@refs/heads/main",
        "digest": {"gitCommit": "a" * 40},
    }
    assert [d["name"] for d in deps[1:]] == ["flows/a.yaml", "mentat.yaml"]
    assert deps[1]["digest"] == {"sha256": hashlib.sha256(b"a").hexdigest()}


def test_commit_is_optional(tree: Path) -> None:
    st = _statement(tree, BuildContext())
    deps = st["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert all("gitCommit" not in d["digest"] for d in deps)
    assert "metadata" not in st["predicate"]["runDetails"]


def test_statement_bytes_are_deterministic(tree: Path) -> None:
    a, _ = prepare(tree, CTX)
    b, _ = prepare(tree, CTX)
    assert a is not None and b is not None
    assert a.statement == b.statement
    assert a.statement == canonical_json(json.loads(a.statement))


def test_prepare_refuses_a_tree_that_does_not_match_its_index(tree: Path) -> None:
    (tree / "crds/agents.mentatlab.io.yaml").write_text("edited\n")
    prepared, diags = prepare(tree, CTX, "rendered")
    assert prepared is None
    assert [d.code for d in diags] == ["M805"]
    assert diags[0].message.startswith(
        "refusing to sign: file differs from index.json: crds/agents.mentatlab.io.yaml"
    )


@pytest.mark.parametrize(
    ("index", "cause"),
    [
        (b"{", "not valid JSON"),
        (b'{"kind": "Other"}', "kind: Index"),
        (b'{"kind": "Index", "files": {}}', "files is not a list"),
        (b'{"kind": "Index", "files": [{"path": "a", "sha256": "XYZ"}]}', "64 lowercase hex"),
        (
            b'{"kind": "Index", "files": [{"path": "index.json", "sha256": "' + b"0" * 64 + b'"}]}',
            "lists itself",
        ),
        (
            b'{"kind": "Index", "files": [{"path": "a", "sha256": "'
            + b"0" * 64
            + b'"}, {"path": "a", "sha256": "'
            + b"0" * 64
            + b'"}]}',
            "twice",
        ),
    ],
)
def test_bad_index_is_named(index: bytes, cause: str) -> None:
    with pytest.raises(IndexFormatError, match=cause):
        parse_index(index)


# --- detect_context: git first, then GitHub Actions variables, never required ---------------

_GIT = shutil.which("git")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


@pytest.mark.skipif(_GIT is None, reason="needs git")
def test_context_without_a_git_binary_is_not_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert detect_context(tmp_path, env={}) == BuildContext()


@pytest.mark.skipif(_GIT is None, reason="needs git")
def test_context_from_git_strips_credentials(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "t@example.org")
    _git(tmp_path, "config", "user.name", "t")
    _git(tmp_path, "remote", "add", "origin", "https://bot:ghp_SECRET@github.com/acme/flows.git")
    (tmp_path / "f").write_text("x")
    _git(tmp_path, "add", "f")
    _git(tmp_path, "commit", "-qm", "c")
    ctx = detect_context(tmp_path, env={})
    assert len(ctx.commit) == 40
    assert ctx.repository == "https://github.com/acme/flows.git"
    assert "SECRET" not in repr(ctx)
    assert ctx.ref == "refs/heads/main"
    assert ctx.dirty is False
    (tmp_path / "f").write_text("changed")
    assert detect_context(tmp_path, env={}).dirty is True


@pytest.mark.skipif(_GIT is None, reason="needs git")
def test_scp_style_remote_is_normalised(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "remote", "add", "origin", "git@github.com:acme/flows.git")
    assert detect_context(tmp_path, env={}).repository == "ssh://github.com/acme/flows.git"


def test_context_without_git_falls_back_to_github_env(tmp_path: Path) -> None:
    env = {
        "GITHUB_SHA": "b" * 40,
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/flows",
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "1",
    }
    ctx = detect_context(tmp_path, env=env)
    assert ctx.commit == "b" * 40
    assert ctx.repository == "https://github.com/acme/flows"
    assert ctx.invocation == "https://github.com/acme/flows/actions/runs/42/attempts/1"


def test_context_with_nothing_known_is_empty(tmp_path: Path) -> None:
    assert detect_context(tmp_path, env={}) == BuildContext()


def test_uncommitted_changes_are_recorded_and_reported(tree: Path, pki_dir: Path) -> None:
    from compiler.sign.pki import load_pki
    from compiler.sign.signer import sign_pki, write_signature
    from compiler.sign.verify import load_trust_roots, verify_pki
    from tests.unit.sign.signkit import NOW

    dirty = BuildContext(commit="c" * 40, dirty=True)
    assert _statement(tree, dirty)["predicate"]["buildDefinition"]["internalParameters"]["gitTreeDirty"]
    assert "gitTreeDirty" not in _statement(tree)["predicate"]["buildDefinition"]["internalParameters"]
    signed = sign_pki(tree, load_pki(pki_dir), dirty, now=NOW)
    assert write_signature(tree, signed.bundle) is None
    result = verify_pki(tree, load_trust_roots((pki_dir / "root.pem").read_bytes()), now=NOW)
    assert result.ok and result.dirty and result.commit == "c" * 40
    assert result.to_dict()["uncommittedChanges"] is True
