"""The output tree as bytes: one YAML file per object, a kustomization.yaml per directory of
objects, artifacts as they are, and index.json listing every file with its sha256 and sources.

Everything here is deterministic: objects are sorted, keys keep the order the renderers built
them in (apiVersion, kind, metadata first), no timestamps; libyaml emits the text.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

import orjson

from compiler import __version__
from compiler.digest import sha256_hex
from compiler.model import Artifact, K8sObject
from compiler.render import yamlout

__all__ = ["INDEX", "SIGNATURE_FILES", "SIGNATURE_SUFFIX", "Deferred", "Files", "Tree",
           "dump_json", "dump_object", "dump_yaml", "dump_yaml_stream", "files_of", "layout",
           "object_path"]

INDEX = "index.json"
SIGNATURE_SUFFIX = ".sigstore.json"  # what a signature file's name ends with
# The signature files `sign` writes at the output root, by exact name: only these are not
# content (verify, --check and the writer ignore them; any other name is compared).
SIGNATURE_FILES = frozenset({"index.sigstore.json"})


def dump_json(obj: Any) -> bytes:
    """Indented, key-sorted JSON with a final newline (orjson: json.dumps' pure-Python
    indenting encoder was a visible part of a 10k-object compile)."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
                        | orjson.OPT_APPEND_NEWLINE)


def dump_yaml(obj: Any) -> bytes:
    return yamlout.dump(obj)


def dump_yaml_stream(objs: Iterable[Any]) -> bytes:
    return yamlout.dump_all(objs, explicit_start=True)


def dump_object(o: K8sObject) -> bytes:
    return dump_yaml(o.obj)


class Deferred(Protocol):
    """A file whose size and sha256 are known before its bytes (an unchanged object of the
    incremental cache): reading them can wait until something must write or compare them."""

    size: int
    digest: str

    def content(self) -> bytes: ...


class Files(Mapping[str, bytes]):
    """The output tree: output-relative POSIX path -> content, index.json included. A value
    may be `Deferred`; `digest` and `size` answer without reading it, so a one-flow change
    to a 10k-file tree reads the bytes of the files it writes, not of every file."""

    __slots__ = ("_digests", "_items")

    def __init__(self, items: dict[str, bytes | Deferred] | None = None) -> None:
        self._items = items if items is not None else {}
        # A path's content is never replaced (layout adds each once), so its digest is
        # worked out once: index.json, the tree diff and the standby refresh each ask for
        # all of them (at 10k files, ~3 ms a pass).
        self._digests: dict[str, str] = {}

    def __getitem__(self, rel: str) -> bytes:
        value = self._items[rel]
        return value if type(value) is bytes else value.content()  # type: ignore[union-attr]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, rel: object) -> bool:
        return rel in self._items

    def digest(self, rel: str) -> str:
        found = self._digests.get(rel)
        if found is None:
            found = self._digests[rel] = _digest(self._items[rel])
        return found

    def digests(self) -> dict[str, str]:
        """Every file's sha256 (for loops over every file)."""
        if len(self._digests) != len(self._items):
            known = self._digests
            self._digests = {rel: known.get(rel) or _digest(v) for rel, v in self._items.items()}
        return dict(self._digests)

    def sizes(self) -> dict[str, int]:
        return {rel: len(v) if type(v) is bytes else v.size  # type: ignore[union-attr]
                for rel, v in self._items.items()}


def _digest(value: bytes | Deferred) -> str:
    return sha256_hex(value) if isinstance(value, bytes) else value.digest


def files_of(files: Mapping[str, bytes]) -> Files:
    return files if isinstance(files, Files) else Files(dict(files))


@dataclass(frozen=True, slots=True)
class Tree:
    files: Files
    sources: dict[str, tuple[str, ...]]  # path -> source files it came from


def object_path(o: K8sObject) -> str:
    return f"{o.dir}/{o.kind.lower()}-{o.name}.yaml"


def layout(
    workspace: str,
    objects: list[K8sObject],
    artifacts: list[Artifact],
    source_digests: dict[str, str],
    dump: Callable[[K8sObject], bytes | Deferred] = dump_object,
    dump_doc: Callable[[dict[str, Any]], bytes] = dump_yaml,
) -> Tree:
    """The files of the output tree. `dump` serialises objects and `dump_doc` the
    kustomizations: the incremental cache passes versions that reuse earlier bytes."""
    items: dict[str, bytes | Deferred] = {}
    files = Files(items)
    sources: dict[str, tuple[str, ...]] = {}
    by_dir: dict[str, list[str]] = defaultdict(list)
    dir_sources: dict[str, set[str]] = defaultdict(set)
    for path, o in sorted(zip(map(object_path, objects), objects, strict=True),
                          key=itemgetter(0)):
        if path in items:  # renderers name objects uniquely per leaf; never overwrite one
            raise ValueError(f"two rendered objects would be written to {path} ({o.kind} "
                             f"{o.name}): a renderer must give objects of one kind distinct "
                             "names within a leaf directory")
        items[path] = dump(o)
        sources[path] = o.sources
        by_dir[o.dir].append(path.rsplit("/", 1)[1])
        dir_sources[o.dir].update(o.sources)
    for d, names in sorted(by_dir.items()):
        kust = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": sorted(names),
        }
        path = f"{d}/kustomization.yaml"
        items[path] = dump_doc(kust)
        sources[path] = tuple(sorted(dir_sources[d]))
    for a in sorted(artifacts, key=lambda a: a.path):
        items[a.path] = a.content
        sources[a.path] = a.sources
    # most objects of a flow share one tuple of sources: sort each distinct one once
    ordered = functools.cache(sorted)
    index = {
        "apiVersion": "mentatlab.io/v1",
        "kind": "Index",
        "compiler": {"name": "mentatctl", "version": __version__},
        "workspace": workspace,
        "files": [
            {"path": p, "sha256": files.digest(p), "sources": ordered(sources[p])}
            for p in sorted(files)
        ],
        "sources": [{"path": p, "sha256": d} for p, d in sorted(source_digests.items())],
    }
    items[INDEX] = dump_json(index)
    return Tree(files=files, sources=sources)
