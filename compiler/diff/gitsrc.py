"""A commit's copy of the workspace, taken from git without touching the working tree.

`git archive` streams the commit's files under the workspace's directory (the output tree
left out: the compile does not read it and it is most of the files) into a temporary
directory; the index, HEAD and the checkout stay as they are, so a diff can run while someone
edits. Only local objects are read: no fetch, no network.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from compiler.load import WORKSPACE_FILE

__all__ = ["GitError", "Repo", "export", "exported", "locate", "output_dir", "resolve",
           "worktree_is"]


class GitError(Exception):
    """git could not answer (not a repository, no such ref): the message names what."""


@dataclass(frozen=True, slots=True)
class Repo:
    top: Path  # the repository's top-level directory
    prefix: str  # the workspace's directory inside it, POSIX, "" at the top


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror}") from exc
    if check and done.returncode != 0:
        raise GitError(done.stderr.decode(errors="replace").strip() or f"git {args[0]} failed")
    return done


def locate(root: Path) -> Repo:
    """The repository holding the workspace `root`."""
    done = _git(root, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise GitError(f"{root} is not inside a git repository")
    top = Path(done.stdout.decode().strip()).resolve()
    prefix = root.resolve().relative_to(top).as_posix()
    return Repo(top, "" if prefix == "." else prefix)


def resolve(repo: Repo, ref: str) -> str:
    """The commit `ref` names (a branch, tag, sha, `HEAD~2`, ...)."""
    if not ref or ref.startswith("-"):
        raise GitError(f"'{ref}' is not a git ref")
    done = _git(repo.top, "rev-parse", "--verify", "--quiet", "--end-of-options",
                f"{ref}^{{commit}}", check=False)
    if done.returncode != 0:
        raise GitError(f"'{ref}' does not name a commit in {repo.top}")
    return done.stdout.decode().strip()


def output_dir(repo: Repo, commit: str) -> str | None:
    """The commit's spec.output (workspace-relative), to leave out of the copy."""
    path = f"{repo.prefix}/{WORKSPACE_FILE}" if repo.prefix else WORKSPACE_FILE
    done = _git(repo.top, "show", f"{commit}:{path}", check=False)
    if done.returncode != 0:
        return None
    try:
        doc = yaml.load(done.stdout, Loader=yaml.CSafeLoader)
        out = doc["spec"].get("output", "rendered/")
    except (yaml.YAMLError, TypeError, KeyError, AttributeError):
        return None  # the compile reports what is wrong with it
    out = out.strip("/") if isinstance(out, str) else ""
    return out if out and ".." not in out.split("/") and not out.startswith(".") else None


def export(repo: Repo, commit: str, dest: Path) -> Path:
    """Write the commit's workspace files under `dest`; returns the workspace root there."""
    root = dest / repo.prefix if repo.prefix else dest
    if repo.prefix and _git(repo.top, "cat-file", "-e", f"{commit}:{repo.prefix}",
                            check=False).returncode != 0:
        return root  # no such directory then: the caller reports the missing workspace
    specs = [f":(literal){repo.prefix}" if repo.prefix else "."]
    out = output_dir(repo, commit)
    if out:
        specs.append(f":(exclude,literal){repo.prefix + '/' if repo.prefix else ''}{out}")
    done = _git(repo.top, "archive", "--format=tar", commit, "--", *specs, check=False)
    if done.returncode != 0:
        raise GitError(done.stderr.decode(errors="replace").strip() or "git archive failed")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(dest, filter="data")  # no absolute paths, no links out of dest
    return root


def _pathspecs(repo: Repo, out: str | None) -> list[str]:
    """The workspace's directory, its output tree and `.mentat/` left out (the compile reads
    neither)."""
    at = repo.prefix + "/" if repo.prefix else ""
    specs = [f":(literal){repo.prefix}" if repo.prefix else ".", f":(exclude,literal){at}.mentat"]
    return [*specs, f":(exclude,literal){at}{out}"] if out else specs


def worktree_is(repo: Repo, commit: str) -> frozenset[str] | None:
    """When HEAD is `commit` and the workspace's files in the working tree are exactly the
    commit's (nothing modified, staged, deleted or untracked; the output tree and `.mentat/`
    aside), the workspace-relative paths git tracks there; otherwise None. Ignored files do
    not show here: the caller checks that the compile read none of them."""
    head = _git(repo.top, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
    if head.returncode != 0 or head.stdout.decode().strip() != commit:
        return None
    specs = _pathspecs(repo, output_dir(repo, commit))
    status = _git(repo.top, "status", "--porcelain=v1", "-z", "--untracked-files=normal",
                  "--ignore-submodules=none", "--", *specs, check=False)
    if status.returncode != 0 or status.stdout:
        return None
    listed = _git(repo.top, "ls-files", "-z", "--full-name", "--", *specs, check=False)
    if listed.returncode != 0:
        return None
    cut = len(repo.prefix) + 1 if repo.prefix else 0
    return frozenset(p[cut:] for p in listed.stdout.decode(errors="surrogateescape").split("\0")
                     if p)


def exported(repo: Repo, commit: str, root: Path) -> bool:
    """Whether the workspace root `root` (an earlier `export` of `commit`, kept) holds exactly
    the commit's files, byte for byte: a kept tree lives in `.mentat/`, which whoever restores
    a CI cache can write, so it is checked against git's object ids before every use."""
    out = output_dir(repo, commit)
    listed = _git(repo.top, "ls-tree", "-r", "-z", "--full-tree", commit, "--",
                  repo.prefix or ".", check=False)  # ls-tree knows no pathspec magic
    if listed.returncode != 0:
        return False
    cut = len(repo.prefix) + 1 if repo.prefix else 0
    skip = (".mentat/", f"{out}/") if out else (".mentat/",)
    want: dict[str, tuple[str, str]] = {}
    for entry in listed.stdout.decode(errors="surrogateescape").split("\0"):
        meta, _, path = entry.partition("\t")
        rel = path[cut:]
        if meta and meta.split()[1] == "blob" and not rel.startswith(skip):
            mode, _, oid = meta.split()  # submodules (commits) are not exported
            want[rel] = (mode, oid)
    algo = "sha256" if want and len(next(iter(want.values()))[1]) == 64 else "sha1"
    seen = 0
    for dirpath, dirs, names in os.walk(root):
        if dirpath == str(root) and ".mentat" in dirs:
            dirs.remove(".mentat")  # as committed, if it is: neither compared nor read
        for name in names + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            mode, oid = want.get(rel, ("", ""))
            if not oid:
                return False
            if os.path.islink(full):
                data = os.readlink(full).encode(errors="surrogateescape")
                if mode != "120000":
                    return False
            else:
                with open(full, "rb") as f:
                    data = f.read()
            blob = hashlib.new(algo, b"blob %d\0" % len(data))
            blob.update(data)
            if blob.hexdigest() != oid:
                return False
            seen += 1
    return seen == len(want)
