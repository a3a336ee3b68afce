"""What gets signed: one in-toto Statement v1 over the output tree, with SLSA provenance v1.

Subjects are every file `index.json` lists plus `index.json` itself, so one signature pins
the whole tree; the predicate records how it was built (this compiler and its version, the
workspace sources with their digests, the git commit and repository when known).

`build_statement` is pure; `detect_context` is the one place that looks at git and the
environment, and it never fails: unknown facts are simply left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "BUILDER_ID",
    "BUILD_TYPE",
    "INDEX_NAME",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "BuildContext",
    "Index",
    "IndexFormatError",
    "build_statement",
    "canonical_json",
    "detect_context",
    "parse_index",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://mentatlab.io/mentatctl/compile/v1"
BUILDER_ID = "https://mentatlab.io/mentatctl"
INDEX_NAME = "index.json"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")  # sha1 or sha256 object names


class IndexFormatError(ValueError):
    """index.json is not the document `write` produces."""


@dataclass(frozen=True, slots=True)
class Index:
    raw: bytes
    sha256: str
    workspace: str
    compiler: dict[str, str]
    files: dict[str, str]  # output-relative path -> sha256 hex
    sources: dict[str, str]  # workspace-relative path -> sha256 hex


@dataclass(frozen=True, slots=True)
class BuildContext:
    """Facts about the build that are not in index.json; every field is optional."""

    commit: str = ""
    repository: str = ""  # URL without credentials
    ref: str = ""
    dirty: bool = False  # the work tree had uncommitted changes when signing
    invocation: str = ""  # CI run URL


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace: the same statement always has the same bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest_list(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, list):
        raise IndexFormatError(f"index.json: {what} is not a list")
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise IndexFormatError(f"index.json: {what}[{i}] is not an object")
        path, digest = item.get("path"), item.get("sha256")
        if not isinstance(path, str) or not path:
            raise IndexFormatError(f"index.json: {what}[{i}].path is missing")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise IndexFormatError(f"index.json: {what}[{i}].sha256 is not 64 lowercase hex digits")
        if path in out:
            raise IndexFormatError(f"index.json: {what} lists {path!r} twice")
        out[path] = digest
    return out


def parse_index(raw: bytes) -> Index:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"index.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != "Index":
        raise IndexFormatError("index.json is not a mentatlab.io Index (kind: Index)")
    files = _digest_list(data.get("files"), "files")
    if INDEX_NAME in files:
        raise IndexFormatError("index.json lists itself in files")
    sources = _digest_list(data.get("sources", []), "sources")
    compiler = data.get("compiler") or {}
    workspace = data.get("workspace", "")
    return Index(
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        workspace=workspace if isinstance(workspace, str) else "",
        compiler={k: v for k, v in compiler.items() if isinstance(v, str)}
        if isinstance(compiler, dict)
        else {},
        files=files,
        sources=sources,
    )


def build_statement(index: Index, ctx: BuildContext) -> dict[str, Any]:
    subjects = {**index.files, INDEX_NAME: index.sha256}
    version = index.compiler.get("version", "")
    deps: list[dict[str, Any]] = []
    if ctx.commit:
        dep: dict[str, Any] = {"digest": {"gitCommit": ctx.commit}}
        if ctx.repository:
            dep["uri"] = f"git+{ctx.repository}" + (f"@{ctx.ref}" if ctx.ref else "")
        deps.append(dep)
    deps += [{"name": p, "digest": {"sha256": d}} for p, d in sorted(index.sources.items())]
    internal: dict[str, Any] = {"compiler": dict(sorted(index.compiler.items()))}
    if ctx.commit and ctx.dirty:
        internal["gitTreeDirty"] = True
    run: dict[str, Any] = {"builder": {"id": BUILDER_ID}}
    if version:
        run["builder"]["version"] = {"mentatctl": version}
    if ctx.invocation:
        run["metadata"] = {"invocationId": ctx.invocation}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": d}} for n, d in sorted(subjects.items())],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"workspace": index.workspace},
                "internalParameters": internal,
                "resolvedDependencies": deps,
            },
            "runDetails": run,
        },
    }


def _strip_credentials(url: str) -> str:
    """A remote URL may embed a token (https://x:TOKEN@host/...): never record that."""
    url = url.strip()
    if "://" not in url:  # scp-like git@host:owner/repo
        m = re.fullmatch(r"(?:[^@/]+@)?([^:/]+):(.+)", url)
        return f"ssh://{m.group(1)}/{m.group(2)}" if m else ""
    try:  # a remote is whatever .git/config says: an open bracket or a bad port raise
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""  # not a URL anything could fetch from: no repository is recorded
    if ":" in host:
        host = f"[{host}]"
    if port:
        host += f":{port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            timeout=10,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""


def detect_context(where: Path, env: Mapping[str, str] | None = None) -> BuildContext:
    """git first (the truth for a local checkout), then GitHub Actions variables."""
    env = os.environ if env is None else env
    commit = _git(where, "rev-parse", "HEAD")
    commit = commit if _HEX_COMMIT.fullmatch(commit) else ""
    repository = _strip_credentials(_git(where, "config", "--get", "remote.origin.url"))
    ref = _git(where, "symbolic-ref", "-q", "HEAD") if commit else ""
    dirty = bool(commit and _git(where, "status", "--porcelain", "--untracked-files=no"))
    server, repo = env.get("GITHUB_SERVER_URL", ""), env.get("GITHUB_REPOSITORY", "")
    if not commit and _HEX_COMMIT.fullmatch(env.get("GITHUB_SHA", "")):
        commit, ref = env["GITHUB_SHA"], env.get("GITHUB_REF", "")
    if not repository and server and repo:
        repository = _strip_credentials(f"{server}/{repo}")
    invocation = ""
    if server and repo and env.get("GITHUB_RUN_ID"):
        invocation = f"{server}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}"
        if env.get("GITHUB_RUN_ATTEMPT"):
            invocation += f"/attempts/{env['GITHUB_RUN_ATTEMPT']}"
    return BuildContext(commit=commit, repository=repository, ref=ref, dirty=dirty, invocation=invocation)
