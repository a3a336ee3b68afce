"""Stage 1, load: find the workspace's sources and parse them safely into `RawDoc`s.

Parsing uses libyaml (`CSafeLoader`) to compose node trees, which keep line and column for
every node, and converts them to plain data ourselves so that we can refuse what a config
file has no business containing: custom tags, duplicate keys, alias bombs, absurd nesting.
`parse_yaml` is a pure function of (path, bytes), so its result can be cached by digest.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from compiler.convert import upgrade
from compiler.diagnostics import Diagnostic
from compiler.model.raw import Path_, Pos, RawDoc

__all__ = [
    "MAX_ALIAS_BYTES",
    "MAX_ALIAS_EXPANSIONS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "WORKSPACE_FILE",
    "LoadResult",
    "find_sources",
    "find_workspace_root",
    "input_digests",
    "is_fixture",
    "load",
    "output_conflict",
    "output_dir",
    "parse_yaml",
    "policy_files",
    "read_source",
    "resolve_inside",
    "rule_files",
]

WORKSPACE_FILE = "mentat.yaml"
MAX_FILE_BYTES = 8 * 1024 * 1024  # a source file larger than this is refused unread
MAX_ALIAS_EXPANSIONS = 10_000  # nodes reached again through aliases, per document
# What aliases may add to a file once expanded (scalar bytes, and 8 per node): one 1 MB
# scalar aliased 3,000 times is 3 GB for every later stage that copies or converts it.
MAX_ALIAS_BYTES = 8 * 1024 * 1024
_NODE_BYTES = 8
MAX_DEPTH = 64

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_T}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP, _SEQ, _MERGE = f"{_T}map", f"{_T}seq", f"{_T}merge"
_constructor = yaml.constructor.SafeConstructor()


@dataclass(slots=True)
class LoadResult:
    root: Path
    workspace: RawDoc | None
    docs: list[RawDoc] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # rel path -> sha256 of its bytes
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the source files found, sorted


class _Refused(Exception):
    def __init__(self, code: str, message: str, pos: Pos, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.pos, self.hint = code, message, pos, hint


def _pos(node: yaml.Node) -> Pos:
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    """Turns one composed document into data, recording the position of every node."""

    def __init__(self, budget: list[int] | None = None) -> None:
        self.positions: dict[Path_, Pos] = {}
        self.key_positions: dict[Path_, Pos] = {}
        self.seen: set[int] = set()
        self.expansions = 0
        self.active: set[int] = set()  # nodes on the current path: an alias back to one loops
        # bytes aliases may still add, shared by the documents of one file
        self.budget = budget if budget is not None else [MAX_ALIAS_BYTES]
        self.expanding = False  # inside an alias's expansion (counted whole already)
        self.sizes: dict[int, int] = {}

    def _size(self, node: yaml.Node) -> int:
        """The bytes `node` expands to: its scalars' lengths and a few per node."""
        stack, order = [node], []
        while stack:  # children before parents, each distinct node once
            n = stack.pop()
            if id(n) in self.sizes:
                continue
            order.append(n)
            if isinstance(n, yaml.SequenceNode):
                stack += [c for c in n.value if id(c) not in self.sizes]
            elif isinstance(n, yaml.MappingNode):
                stack += [c for kv in n.value for c in kv if id(c) not in self.sizes]
        for n in reversed(order):
            if isinstance(n, yaml.ScalarNode):
                size = len(n.value)
            elif isinstance(n, yaml.SequenceNode):
                size = sum(self.sizes.get(id(c), 0) for c in n.value)
            else:
                size = sum(self.sizes.get(id(c), 0) for kv in n.value for c in kv)
            self.sizes[id(n)] = size + _NODE_BYTES
        return self.sizes[id(node)]

    def convert(self, node: yaml.Node, path: Path_ = (), depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise _Refused("M110", f"nesting deeper than {MAX_DEPTH} levels", _pos(node))
        ident = id(node)
        if ident in self.active:
            raise _Refused("M105", "recursive alias", _pos(node))
        outer = self.expanding
        if ident in self.seen:
            self.expansions += 1
            if self.expansions > MAX_ALIAS_EXPANSIONS:
                raise _Refused(
                    "M105",
                    f"more than {MAX_ALIAS_EXPANSIONS} alias expansions in one document",
                    _pos(node),
                    "this looks like an alias bomb (billion laughs); expand the anchors by hand",
                )
            if not outer:
                self.budget[0] -= self._size(node)
                if self.budget[0] < 0:
                    raise _Refused(
                        "M105",
                        f"aliases expand this file by more than {MAX_ALIAS_BYTES} bytes",
                        _pos(node),
                        "an anchor repeated this often is an alias bomb; repeat less data")
                self.expanding = True
        self.seen.add(ident)
        self.positions[path] = _pos(node)
        if isinstance(node, yaml.ScalarNode):
            self.expanding = outer
            return self._scalar(node)
        self.active.add(ident)
        try:
            if isinstance(node, yaml.SequenceNode):
                self._check_tag(node, _SEQ)
                return [self.convert(v, (*path, i), depth + 1) for i, v in enumerate(node.value)]
            self._check_tag(node, _MAP)
            return self._mapping(cast(yaml.MappingNode, node), path, depth)
        finally:
            self.active.discard(ident)
            self.expanding = outer

    def _check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            raise _Refused("M104", f"tag {_short(node.tag)} is not allowed", _pos(node))

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _Refused(
                "M104",
                f"tag {_short(node.tag)} is not allowed",
                _pos(node),
                "sources may only use plain YAML scalars, mappings and sequences",
            )
        if node.tag == f"{_T}str" or node.tag == f"{_T}timestamp":
            return node.value  # timestamps stay text: configs compare them as written
        value = _constructor.yaml_constructors[node.tag](_constructor, node)
        # Every document becomes JSON (Kubernetes objects) and CEL values (policies): a
        # number neither can carry is refused here, where its line is known.
        if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
            raise _Refused("M112", f"integer {_clip(node.value)} is outside the 64-bit range",
                           _pos(node), "Kubernetes and CEL integers are 64-bit; quote it if "
                           "it is meant as text")
        if type(value) is float and not math.isfinite(value):
            raise _Refused("M112", f"{_clip(node.value)} is not a finite number", _pos(node),
                           "JSON has no NaN or infinity; quote it if it is meant as text")
        if type(value) is float and abs(value) >= 2.0**63:  # 1e300 is an "integer" to JSON Schema
            raise _Refused("M112", f"{_clip(node.value)} is outside the 64-bit range",
                           _pos(node), "no field takes a number this large")
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_seen: dict[str, Pos] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self._merge(value_node, path, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                raise _Refused("M109", "mapping keys must be plain scalars", _pos(key_node))
            key = key_node.value
            kpos = _pos(key_node)
            if key in first_seen:
                prev = first_seen[key]
                raise _Refused(
                    "M103",
                    f"duplicate key '{key}' (first defined at line {prev.line})",
                    kpos,
                    "YAML keeps only the last value; remove one of them",
                )
            first_seen[key] = kpos
            self.key_positions[(*path, key)] = kpos
            out[key] = self.convert(value_node, (*path, key), depth + 1)
        for k, v in merged.items():  # explicit keys win over merged ones
            out.setdefault(k, v)
        return out

    def _merge(self, value: yaml.Node, path: Path_, depth: int) -> dict[str, Any]:
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        merged: dict[str, Any] = {}
        own = self.positions[path]
        for src in reversed(sources):  # earlier sources win
            data = self.convert(src, path, depth + 1)
            self.positions[path] = own
            if not isinstance(data, dict):
                raise _Refused("M109", "merge key '<<' needs a mapping", _pos(src))
            merged.update(data)
        return merged


_INT64 = (-(2**63), 2**63 - 1)


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _short(tag: str | None) -> str:
    if tag and tag.startswith(_T):
        return "!!" + tag[len(_T):]
    return tag or "?"


def parse_yaml(rel: str, content: bytes, *, convert: bool = True
               ) -> tuple[list[RawDoc], list[Diagnostic]]:
    """Parse one source file's bytes into documents, older API versions converted to the
    newest (compiler/convert) unless `convert` is False. Pure: depends only on its arguments."""
    if len(content) > MAX_FILE_BYTES:
        return [], [_file_too_large(rel, len(content))]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as e:
        line = content[: e.start].count(b"\n") + 1
        col = e.start - (content.rfind(b"\n", 0, e.start) + 1) + 1
        return [], [Diagnostic("M101", f"not valid UTF-8 ({e.reason})", rel, line, col)]
    if text.startswith("\ufeff"):
        text = text[1:]
    docs: list[RawDoc] = []
    warnings: list[Diagnostic] = []  # older apiVersions, converted
    budget = [MAX_ALIAS_BYTES]
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if node is None or (isinstance(node, yaml.ScalarNode)
                                and node.tag == f"{_T}null" and not node.value):
                continue  # an empty document (a trailing `---`), as an empty file is
            conv = _Converter(budget)
            try:
                data = conv.convert(node)
            except _Refused as r:
                return docs, [*warnings, Diagnostic(r.code, r.message, rel, r.pos.line, r.pos.col,
                                                    hint=r.hint)]
            except RecursionError:
                p = _pos(node)
                return docs, [*warnings, Diagnostic("M110", "nesting too deep", rel, p.line, p.col)]
            if not isinstance(data, dict):
                p = _pos(node)
                return docs, [*warnings, Diagnostic("M109", "a document must be a mapping", rel,
                                                    p.line, p.col)]
            doc, warning = RawDoc(rel, index, data, conv.positions, conv.key_positions), None
            if convert:
                doc, warning = upgrade(doc)
            docs.append(doc)
            if warning is not None:
                warnings.append(warning)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(x for x in (e.context, e.problem) if x)
        return docs, [*warnings, Diagnostic("M102", f"YAML syntax error: {problem}", rel, line, col)]
    except yaml.YAMLError as e:  # reader errors (control characters) carry no mark
        return docs, [*warnings, Diagnostic("M102", f"YAML error: {e}", rel, 1, 1)]
    except RecursionError:
        return docs, [*warnings, Diagnostic("M110", "nesting too deep", rel, 1, 1)]
    return docs, warnings


def _file_too_large(rel: str, size: int) -> Diagnostic:
    return Diagnostic(
        "M106",
        f"file is {size} bytes, more than the limit of {MAX_FILE_BYTES}",
        rel,
        hint="split it into several files",
    )


def find_workspace_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` holding mentat.yaml (like git finds .git)."""
    start = start.resolve()
    for d in (start, *start.parents):
        if (d / WORKSPACE_FILE).is_file():
            return d
    return None


def resolve_inside(root: Path, rel: str, dirs: dict[str, Path] | None = None) -> Path | None:
    """`root/rel` with symlinks resolved, or None when it lies outside `root` (resolved).
    `dirs` memoises resolved directories over one pass of many files: a file that is no
    symlink then costs one lstat instead of one per path component."""
    if not rel or os.path.isabs(rel) or rel.startswith("~"):
        return None
    head, name = os.path.split(rel)
    if dirs is None or name in ("", ".", ".."):
        target = (root / rel).resolve()
    else:
        parent = dirs.get(head)
        if parent is None:
            parent = dirs[head] = (root / head).resolve()
        target = parent / name
        if os.path.islink(target):
            target = target.resolve()
    return target if target == root or root in target.parents else None


def read_source(root: Path, rel: str, dirs: dict[str, Path] | None = None
                ) -> tuple[bytes | None, Diagnostic | None]:
    """Read one workspace file, refusing escapes, non-files and oversized files unread.
    (`dirs`: as for `resolve_inside`.)"""
    path = resolve_inside(root, rel, dirs)
    if path is None:
        return None, Diagnostic("M107", "path resolves outside the workspace", rel)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return None, Diagnostic("M100", "not a regular file", rel)
        if st.st_size > MAX_FILE_BYTES:
            return None, _file_too_large(rel, st.st_size)
        with open(path, "rb") as f:
            return f.read(), None
    except OSError as e:
        return None, Diagnostic("M100", f"cannot read: {e.strerror}", rel)


def find_sources(
    root: Path, ws: RawDoc, skip: set[str]
) -> tuple[list[str], list[Diagnostic]]:
    """Every *.yaml / *.yml under the workspace's `spec.sources`, sorted, relative to root.

    Symlinks are followed only while they stay inside the workspace; one that points out is
    reported, not read. Hidden directories and `skip` (the output tree) are not scanned.
    """
    diags: list[Diagnostic] = []
    found: set[str] = set()
    spec = ws.data.get("spec") if isinstance(ws.data.get("spec"), dict) else {}
    sources = spec.get("sources", ["."])
    if not isinstance(sources, list):
        return [], []  # validate reports the type error
    for i, src in enumerate(sources):
        if not isinstance(src, str):
            continue
        base = resolve_inside(root, src)
        if base is None:
            p = ws.pos(("spec", "sources", i))
            diags.append(
                Diagnostic("M107", f"source '{src}' is outside the workspace", ws.file, p.line, p.col)
            )
            continue
        if not base.is_dir():
            p = ws.pos(("spec", "sources", i))
            diags.append(
                Diagnostic("M100", f"source directory '{src}' does not exist", ws.file, p.line, p.col)
            )
            continue
        _walk(root, base, skip, found, diags, set())
    found.discard(WORKSPACE_FILE)
    return sorted(found), diags


def _walk(
    root: Path, d: Path, skip: set[str], found: set[str], diags: list[Diagnostic], visited: set[Path]
) -> None:
    real = d.resolve()
    if real in visited or any(real == root / s for s in skip):
        return  # seen already, or the output tree (`skip` is resolved) reached via a symlink
    visited.add(real)
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError as e:
        diags.append(Diagnostic("M100", f"cannot list directory: {e.strerror}", _rel(root, d)))
        return
    for entry in entries:
        path = Path(entry.path)
        rel = _rel(root, path)
        if entry.name.startswith(".") or rel in skip:
            continue
        if not _utf8(entry.name):  # POSIX names are bytes; diagnostics, keys, JSON are text
            if entry.name.endswith((".yaml", ".yml")) or entry.is_dir():
                shown = rel.encode("utf-8", "backslashreplace").decode("utf-8")
                diags.append(Diagnostic("M101", "file name is not valid UTF-8: rename it",
                                        shown))
            continue
        if entry.is_symlink():
            target = resolve_inside(root, rel)
            if target is None:
                if entry.name.endswith((".yaml", ".yml")) or path.is_dir():
                    diags.append(Diagnostic("M107", "symlink points outside the workspace", rel))
                continue
            if target.is_dir():
                _walk(root, path, skip, found, diags, visited)
                continue
        if entry.is_dir(follow_symlinks=True):
            _walk(root, path, skip, found, diags, visited)
        elif entry.name.endswith((".yaml", ".yml")):
            found.add(rel)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates by os.fsdecode
        return False
    return True


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else "."


def discover(root: Path, output: str | None = None) -> LoadResult:
    """Read mentat.yaml and find the source files it names, without reading them."""
    root = root.resolve()
    result = LoadResult(root=root, workspace=None)
    content, err = read_source(root, WORKSPACE_FILE)
    if err or content is None:
        result.diagnostics.append(err or Diagnostic("M108", "mentat.yaml missing"))
        return result
    result.digests[WORKSPACE_FILE] = hashlib.sha256(content).hexdigest()
    docs, diags = parse_yaml(WORKSPACE_FILE, content)
    result.diagnostics += diags
    workspaces = [d for d in docs if d.kind == "Workspace"]
    if diags:
        return result
    if len(workspaces) != 1 or len(docs) != 1:
        result.diagnostics.append(
            Diagnostic(
                "M108",
                f"mentat.yaml must hold exactly one Workspace document (found {len(docs)} "
                f"document(s), {len(workspaces)} Workspace)",
                WORKSPACE_FILE,
                1,
                1,
            )
        )
        return result
    ws = workspaces[0]
    result.workspace = ws
    out = output if output is not None else ws.data.get("spec", {}).get("output", "rendered/")
    skip: set[str] = set()
    if isinstance(out, str) and out:
        # by resolved path: `./rendered`, `rendered/` and `$PWD/rendered` are one directory
        target = (root / out).resolve()
        conflict = output_conflict(root, target, ws.data.get("spec"))
        if conflict is not None:  # said before the sources are read: it explains their absence
            p = ws.pos(("spec", "output")) if output is None else Pos(0, 0)
            result.diagnostics.append(Diagnostic(
                "M701", f"output '{out}' cannot be written: {conflict}",
                ws.file if output is None else "", p.line, p.col,
                hint="choose an output directory of its own, e.g. rendered/"))
        if target != root and root in target.parents:
            skip.add(target.relative_to(root).as_posix())
    result.files, diags = find_sources(root, ws, skip)
    result.diagnostics += diags
    return result


@dataclass(frozen=True, slots=True)
class Discovered:
    """A discovery and the bytes of the files it read (`input_digests`, when the incremental
    cache checks whether anything changed), for `load` to use instead of reading again."""

    found: LoadResult
    contents: dict[str, bytes]
    digests: dict[str, str]  # of the contents


def load(
    root: Path,
    output: str | None = None,
    parse: Callable[[str, bytes], tuple[list[RawDoc], list[Diagnostic]]] = parse_yaml,
    discovered: Discovered | None = None,
) -> LoadResult:
    """Read mentat.yaml and every source file it names. Collects diagnostics; never raises.
    `parse` is `parse_yaml` or a memoised version of it (compiler/cache/parse.py); `discovered`,
    what `input_digests` found and read just before, for the same `root` and `output`."""
    if discovered is not None and discovered.found.root == root.resolve():
        result, contents, known = discovered.found, discovered.contents, discovered.digests
    else:
        result, contents, known = discover(root, output), {}, {}
    dirs: dict[str, Path] = {}
    for rel in result.files:
        content = contents.get(rel)
        if content is not None:
            result.digests[rel] = known[rel]
        else:
            content, err = read_source(result.root, rel, dirs)
            if err:
                result.diagnostics.append(err)
                continue
            assert content is not None
            result.digests[rel] = hashlib.sha256(content).hexdigest()
        docs, diags = parse(rel, content)
        result.docs += docs
        result.diagnostics += diags
    return result


_FIXTURE = re.compile(r"\.(pass|fail)\.ya?ml$")


def is_fixture(name: str) -> bool:
    """A policy rule's test document (`*.pass.yaml`, `*.fail.yaml`), not a rule file."""
    return bool(_FIXTURE.search(name))


def rule_files(base: Path) -> list[Path]:
    """Policy rule files: *.yaml / *.yml under `base`, fixtures and hidden entries left
    out, sorted."""
    found = []
    for p in sorted(base.rglob("*")):
        rel = p.relative_to(base)
        if any(part.startswith(".") for part in rel.parts) or "tests" in rel.parts[:-1]:
            continue
        if p.suffix in (".yaml", ".yml") and p.is_file() and not is_fixture(p.name):
            found.append(p)
    return found


def policy_files(root: Path, policies: Any) -> list[str] | None:
    """The rule files of the workspace's `spec.policies` directories, relative to `root`;
    None when a directory is outside the workspace or missing (the policy stage reports it)."""
    found: list[str] = []
    for rel in policies if isinstance(policies, list) else ():
        target = resolve_inside(root, rel) if isinstance(rel, str) else None
        if target is None or not target.is_dir():
            return None
        found += [p.relative_to(root).as_posix() for p in rule_files(target)]
    return found


def output_dir(root: Path, rel: Any) -> Path | None:
    """The workspace's `spec.output`, symlinks followed; None unless it is a directory inside
    the workspace (not the workspace itself)."""
    if not isinstance(rel, str):
        return None
    target = resolve_inside(root, rel.rstrip("/") or ".")
    return target if target is not None and target != root else None


_OWNED = (".mentat", ".git")  # the compiler's cache and standby copies; the repository


def output_conflict(root: Path, out: Path, spec: Any, inputs: Iterable[str] = ()) -> str | None:
    """Why the directory `out` cannot be an output tree of the workspace at `root`, or None.
    An output tree is replaced as a whole, so it must share nothing with what the compiler
    reads or owns: not the workspace root or a directory above it, nothing in or around
    `.mentat/` or `.git/`, no source or policy directory of `spec` (the Workspace's spec;
    inside the workspace root as a source is fine, discovery skips the output), and none
    of `inputs`, the workspace-relative files a compile read."""
    root, out = root.resolve(), out.resolve()

    def overlaps(d: Path) -> bool:
        return out == d or d in out.parents or out in d.parents

    if out == root or out in root.parents:
        return "it would hold the whole workspace"
    for name in _OWNED:
        if overlaps(root / name):
            return f"it overlaps {name}/, which mentatctl or git owns"
    spec = spec if isinstance(spec, dict) else {}
    for field_name, what in (("sources", "source"), ("policies", "policy")):
        dirs = spec.get(field_name, ["."] if field_name == "sources" else [])
        for rel in dirs if isinstance(dirs, list) else ():
            d = resolve_inside(root, rel.rstrip("/") or ".") if isinstance(rel, str) else None
            if d is not None and d != root and overlaps(d):
                return f"it overlaps the {what} directory '{rel}'"
    prefix = out.as_posix() + "/"
    for rel in inputs:
        if (root / rel).as_posix().startswith(prefix):
            return f"it holds '{rel}', which the compiler reads"
    return None


def input_digests(root: Path, output: str | None, extra: Iterable[str]
                  ) -> tuple[dict[str, str], Path | None, Discovered] | None:
    """The sha256 of every file a compile of `root` reads (mentat.yaml, the sources it finds,
    the workspace's policy rule files and `extra`, the wasm modules), where its output
    directory resolves now (`output` when given), and what was read (for `load`). None when
    a file cannot be read: only a compile can say why."""
    found = discover(root, output)
    if found.workspace is None or found.diagnostics:
        return None
    spec = found.workspace.data.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    rules = policy_files(found.root, spec.get("policies", []))
    if rules is None:
        return None
    digests = dict(found.digests)
    contents: dict[str, bytes] = {}
    dirs: dict[str, Path] = {}
    for rel in (*found.files, *rules, *extra):
        if rel in digests:  # listed twice (extra names the sources too)
            continue
        content, err = read_source(found.root, rel, dirs)
        if err or content is None:
            return None
        digests[rel] = hashlib.sha256(content).hexdigest()
        contents[rel] = content
    return digests, Path(output) if output is not None else output_dir(
        found.root, spec.get("output")), Discovered(found, contents, digests)
