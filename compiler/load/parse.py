"""The safe YAML parser: one source file's bytes into `RawDoc`s with positions, or diagnostics.

libyaml (`CSafeLoader`) composes node trees, which keep line and column for every node, and
`_Converter` turns them into plain data itself so that it can refuse what a config file has
no business containing: custom tags, duplicate keys, alias bombs, absurd nesting, numbers
JSON and CEL cannot carry. Apart from discovery because it touches no file system:
`parse_yaml` is a pure function of (path, bytes), so its result can be cached by digest.
"""

from __future__ import annotations

import math
from typing import Any, cast

import yaml

from compiler.convert import upgrade
from compiler.diagnostics import Diagnostic
from compiler.model.raw import Path_, Pos, RawDoc

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
