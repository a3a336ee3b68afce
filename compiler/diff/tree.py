"""One side of a diff read from an output tree a compile wrote, instead of compiling again.

When nothing the last `compile` read has changed (the incremental cache's replay says so,
having checked the tree against its stat snapshot and index.json's digest), that tree is what
compiling the same files again would produce. Its index.json lists every file with its
sha256, so the comparison needs no file's bytes except those whose digests differ between
the sides, the kustomizations (which list a directory's objects: `render.layout` writes one
per directory of objects, naming exactly them) and policy-report.json. A file is checked
against its listed digest when it is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import orjson
import yaml

from compiler.diff.compare import POLICY_REPORT, FindingKey, Side
from compiler.digest import sha256_hex
from compiler.render.layout import INDEX, Files

__all__ = ["KUSTOMIZATION", "TreeChanged", "tree_side"]

KUSTOMIZATION = "kustomization.yaml"


class TreeChanged(Exception):
    """A file of the tree changed or went away after the cache vouched for it: the caller
    diffs again without reusing anything."""


class _OnDisk:
    """A file of the tree (`Deferred`): its bytes are read, and checked, when asked for."""

    __slots__ = ("digest", "path")

    def __init__(self, path: str, digest: str) -> None:
        self.path = path
        self.digest = digest

    @property
    def size(self) -> int:
        return os.stat(self.path).st_size

    def content(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise TreeChanged(f"{self.path}: {exc.strerror}") from None
        if sha256_hex(data) != self.digest:
            raise TreeChanged(f"{self.path} changed while the diff read it")
        return data


class _Objects(Mapping[str, tuple[str, str, str]]):
    """Object path -> (directory, kind, name); the kind and name are read from the object's
    YAML when asked for (the comparison asks only about objects that differ)."""

    __slots__ = ("_files", "_paths")

    def __init__(self, paths: frozenset[str], files: Files) -> None:
        self._paths = paths
        self._files = files

    def __getitem__(self, path: str) -> tuple[str, str, str]:
        if path not in self._paths:
            raise KeyError(path)
        obj = yaml.load(self._files[path], Loader=yaml.CSafeLoader)
        return path.rsplit("/", 1)[0], obj["kind"], obj["metadata"]["name"]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def keys(self) -> frozenset[str]:  # type: ignore[override]
        return self._paths


_PLAIN_HEAD = b"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
_PLAIN_BODY = re.compile(rb"(?:- [a-z0-9][a-z0-9.-]*\.yaml\n)*")


def _resources(data: bytes) -> list[str]:
    """The file names a kustomization lists. Those `layout` writes are that header and one
    `- name.yaml` line per object, names of DNS characters that YAML takes as plain strings:
    split as lines (libyaml took 15-20 ms for each 2,500-object directory of the 10k
    benchmark); any other shape is parsed as YAML."""
    if data.startswith(_PLAIN_HEAD) and _PLAIN_BODY.fullmatch(data, len(_PLAIN_HEAD)):
        return [line[2:].decode() for line in data[len(_PLAIN_HEAD):].splitlines()]
    doc = yaml.load(data, Loader=yaml.CSafeLoader)
    return [str(r) for r in doc.get("resources") or ()]


def _object_paths(files: Files, parsed: dict[str, list[str]]) -> frozenset[str]:
    paths: list[str] = []
    for rel in files:
        if rel.endswith("/" + KUSTOMIZATION):
            digest = files.digest(rel)
            if digest not in parsed:  # both sides' copies of one directory are parsed once
                parsed[digest] = _resources(files[rel])
            d = rel[: -len(KUSTOMIZATION)]
            paths += (d + r for r in parsed[digest])
    return frozenset(paths)


def _findings(files: Files) -> frozenset[FindingKey] | None:
    """The policy findings, when policy-report.json holds all of them: it lists the failures
    (`violations`) in full, but an evaluation error or a waived finding only as a tally, so a
    tree with any of those is compiled instead. (A finding over a time or memory limit, and
    the ones skipped after it, are errors too; `compile` never records such an outcome for
    replay anyway.)"""
    if POLICY_REPORT not in files:
        return frozenset()
    try:
        report = orjson.loads(files[POLICY_REPORT])
        if report.get("waivers") or any(r.get("errors") for r in report.get("rules", ())):
            return None
        return frozenset(FindingKey(v["rule"], v["object"], "fail", v["severity"],
                                    v["message"], v["file"]) for v in report["violations"])
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return None  # not a report this compiler writes: compile instead


def tree_side(out: Path, ref: str, commit: str, parsed: dict[str, list[str]]
              ) -> tuple[Side, str] | None:
    """The side the output tree `out` is, with the workspace's name; None when the tree
    cannot say everything the comparison needs (then compile). `parsed`: kustomizations
    read so far, by digest, shared between the sides."""
    try:
        raw = (out / INDEX).read_bytes()
        index = orjson.loads(raw)
        base = str(out) + os.sep
        items = {f["path"]: _OnDisk(base + f["path"], f["sha256"]) for f in index["files"]}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None
    items[INDEX] = raw  # type: ignore[assignment]
    files = Files(items)  # type: ignore[arg-type]
    findings = _findings(files)
    if findings is None:
        return None
    side = Side(ref, commit, files, _Objects(_object_paths(files, parsed), files), findings,
                sha256_hex(raw))
    return side, str(index["workspace"])
