"""Hash an output tree as it is on disk, and compare it with what was signed.

Walks the directory instead of opening the paths a (possibly forged) statement names, so a
hostile name like `../../etc/passwd` is never opened; it simply shows up as missing.
Reads each file with plain `os.read` calls into sha256 (no file object per file): 10,000
small files hash in well under half a second.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SIGNATURE_FILES",
    "SIGNATURE_SUFFIX",
    "Problem",
    "TreeDigests",
    "compare",
    "display",
    "hash_tree",
    "read_regular",
]

SIGNATURE_SUFFIX = ".sigstore.json"  # what a signature file's name ends with
# Not signed content: only the signature files `sign` writes at the output root, by exact
# name. Any other file, `rbac.sigstore.json` included, is content and must be signed.
SIGNATURE_FILES = frozenset({"index.sigstore.json"})
_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # changed | extra | missing | unreadable
    path: str
    message: str


@dataclass(slots=True)
class TreeDigests:
    digests: dict[str, str] = field(default_factory=dict)  # rel POSIX path -> sha256 hex
    problems: list[Problem] = field(default_factory=list)


def display(rel: str) -> str:
    """File names are bytes on POSIX; show undecodable ones escaped instead of crashing."""
    return rel.encode("utf-8", "backslashreplace").decode("utf-8")


def _hash(path: str) -> str | None:
    """sha256 of a regular file, refusing symlinks and devices (a FIFO would block)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        h = hashlib.sha256()
        while chunk := os.read(fd, _CHUNK):  # no file object: most files are one read
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def read_regular(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most `limit` of them: a symlink to /dev/zero or a FIFO in
    the tree's place would otherwise hang the reader or exhaust memory."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit} bytes")
    return data


def hash_tree(root: Path) -> TreeDigests:
    out = TreeDigests()
    stack: list[tuple[str, str]] = [(os.fspath(root), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            out.problems.append(
                Problem(
                    "unreadable",
                    prefix or ".",
                    f"cannot list {display(prefix or '.')}: {exc.strerror}",
                )
            )
            continue
        for entry in entries:
            rel = prefix + entry.name
            if not prefix and entry.name in SIGNATURE_FILES:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, rel + "/"))
                continue
            try:
                digest = _hash(entry.path) if entry.is_file(follow_symlinks=False) else None
            except OSError as exc:
                out.problems.append(Problem("unreadable", rel, f"cannot read {display(rel)}: {exc.strerror}"))
                continue
            if digest is None:
                out.problems.append(
                    Problem("extra", rel, f"{display(rel)} is not a regular file (symlink or device)")
                )
                continue
            out.digests[rel] = digest
    return out


_TEXT = {
    # (extra, changed, missing) for verifying against a signature / signing against the index
    False: (
        "extra file not covered by the signature: {rel}",
        "file changed since signing: {rel} (sha256 {got}…, signed {want}…)",
        "signed file is missing: {rel}",
    ),
    True: (
        "file not listed in index.json: {rel}",
        "file differs from index.json: {rel} (sha256 {got}…, index says {want}…)",
        "file listed in index.json is missing: {rel}",
    ),
}


def compare(on_disk: TreeDigests, expected: dict[str, str], *, against_index: bool = False) -> list[Problem]:
    """Every difference between the tree and the expected digests, sorted by path."""
    extra, changed, missing = _TEXT[against_index]
    problems = list(on_disk.problems)
    flagged = {p.path for p in problems}
    for rel, digest in on_disk.digests.items():
        want = expected.get(rel)
        if want is None:
            problems.append(Problem("extra", rel, extra.format(rel=display(rel))))
        elif want != digest:
            text = changed.format(rel=display(rel), got=digest[:12], want=want[:12])
            problems.append(Problem("changed", rel, text))
    for rel in expected:
        if rel not in on_disk.digests and rel not in flagged:
            problems.append(Problem("missing", rel, missing.format(rel=display(rel))))
    return sorted(problems, key=lambda p: (p.path, p.kind))
