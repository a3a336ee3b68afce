"""Rewrite older-version source files as v1 in place, keeping comments, key order and
formatting: a ruamel.yaml round trip that changes only what the converters change.

`plan` reads and checks every file first and returns the new bytes of those that change;
the command writes them only when no file has a problem (nothing half-migrated). Each new
text is checked before it is offered: parsed again, it must hold exactly what the loader's
converter makes of the old one.
"""

from __future__ import annotations

import copy
import io
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.tokens import CommentToken

from compiler.convert import is_old
from compiler.convert.v1alpha1 import split_edge
from compiler.diagnostics import Diagnostic, Severity
from compiler.load import discover, parse_yaml, read_source
from compiler.schema import API_VERSION
from compiler.validate import schema_diagnostics

__all__ = ["Change", "Plan", "plan", "write"]


@dataclass(frozen=True, slots=True)
class Change:
    file: str  # relative to the workspace root
    before: bytes
    after: bytes
    documents: int  # how many documents were converted


@dataclass(slots=True)
class Plan:
    root: Path
    changes: list[Change] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def plan(root: Path) -> Plan:
    """What `migrate` would write: every source file with an older document, converted."""
    found = discover(root)
    out = Plan(found.root, diagnostics=list(found.diagnostics))
    for rel in found.files:
        content, err = read_source(found.root, rel)
        if err is not None or content is None:
            out.diagnostics.append(err or Diagnostic("M100", "cannot read", rel))
            continue
        change, diags = migrate_file(rel, content)
        out.diagnostics += diags
        if change is not None:
            writable = _unwritable(found.root, rel)
            if writable is not None:
                out.diagnostics.append(writable)
            out.changes.append(change)
    return out


def migrate_file(rel: str, content: bytes) -> tuple[Change | None, list[Diagnostic]]:
    """The file's new bytes (None when it has nothing to convert) or why it cannot be."""
    docs, diags = parse_yaml(rel, content)
    errors = [d for d in diags if d.severity is Severity.ERROR]
    if errors:
        return None, errors
    raw, _ = parse_yaml(rel, content, convert=False)
    old = [d for d in raw if is_old(d)]
    if not old:
        return None, []
    problems = [p for d in old for p in schema_diagnostics(d, d.api_version.partition("/")[2])]
    if problems:
        return None, problems
    text = content.decode("utf-8")
    try:
        after = _rewrite(text)
    except YAMLError as e:  # libyaml read it, so this is ruamel's limitation
        return None, [Diagnostic("M702", f"ruamel.yaml cannot rewrite it: {e}", rel, 1, 1,
                                 hint="convert it by hand (see docs/authoring.md)")]
    new_docs, new_diags = parse_yaml(rel, after)
    if new_diags or [d.data for d in new_docs] != [d.data for d in docs]:
        return None, [Diagnostic("M702", "the rewritten file would not mean what the "
                                 "converter reads: it is left as it is", rel, 1, 1,
                                 hint="convert it by hand (see docs/authoring.md); "
                                 "please report this file")]
    return Change(rel, content, after, len(old)), []


def _yaml(text: str) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 1 << 16  # never fold a long line
    indent, offset = _guess_indent(text)
    y.indent(mapping=indent, sequence=indent + offset, offset=offset)
    return y


_KEY_LINE = re.compile(r"^( *)[^ #-][^#]*:\s*(#.*)?$")  # `key:` opening a block
_ITEM_LINE = re.compile(r"^( *)- ")


def _guess_indent(text: str) -> tuple[int, int]:
    """The file's mapping indent and sequence dash offset (ruamel.yaml writes the whole file
    with one of each; its own guess reads a single document only)."""
    indent = offset = None
    parent: int | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item, key = _ITEM_LINE.match(line), _KEY_LINE.match(line)
        if parent is not None and item and offset is None:
            offset = len(item.group(1)) - parent
        elif parent is not None and not item and indent is None:
            width = len(line) - len(line.lstrip(" "))
            if width > parent:
                indent = width - parent
        parent = len(key.group(1)) if key else None
        if indent is not None and offset is not None:
            break
    indent = indent or 2
    return indent, indent if offset is None else max(offset, 0)


_MARKER = re.compile(r"^(---|\.\.\.)(\s|$)|^%")  # document markers and directives


def _segments(text: str) -> list[tuple[bool, str]]:
    """The file cut at its document markers (`---`, `...` and directives: at column 0 they
    always are markers, even inside a block scalar): (False, marker line) or (True, the lines
    of one document between them)."""
    out: list[tuple[bool, str]] = []
    body: list[str] = []
    for line in text.splitlines(keepends=True):
        if _MARKER.match(line):
            if body:
                out.append((True, "".join(body)))
                body = []
            out.append((False, line))
        else:
            body.append(line)
    if body:
        out.append((True, "".join(body)))
    return out


def _is_old_text(body: str) -> bool:
    docs, _ = parse_yaml("-", body.encode("utf-8"), convert=False)
    return any(is_old(d) for d in docs)


def _rewrite(text: str) -> bytes:
    """Each older document rewritten on its own; every other byte of the file (the other
    documents, markers, directives) stays exactly as it was."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    parts = [bom]
    for is_body, segment in _segments(text[len(bom):]):
        parts.append(_rewrite_doc(segment) if is_body and _is_old_text(segment) else segment)
    return "".join(parts).encode("utf-8")


def _rewrite_doc(body: str) -> str:
    y = _yaml(body)
    doc = y.load(body)
    doc["apiVersion"] = type(doc["apiVersion"])(API_VERSION)  # keeps its quoting
    spec = doc["spec"]
    if doc["kind"] == "Agent":
        _rename(spec, "type", "runtime")
        _pins(spec)
    else:
        _rename(spec, "steps", "nodes")
        _edges(spec)
        for env in (spec.get("overrides") or {}).values():
            _rename(env, "steps", "nodes")
    buf = io.StringIO()
    y.dump(doc, buf)
    out = buf.getvalue()
    return out.replace("\n", "\r\n") if "\r\n" in body else out  # ruamel writes \n


def _rename(m: CommentedMap, old: str, new: str) -> None:
    """`old` becomes `new` in place: same position, same comments."""
    if old not in m:
        return
    i = list(m).index(old)
    comment = m.ca.items.pop(old, None)
    value = m.pop(old)
    m.insert(i, new, value)
    if comment is not None:
        m.ca.items[new] = [_shifted(t, len(new) - len(old)) for t in comment]


def _shifted(token: Any, delta: int) -> Any:
    """An end-of-line comment moved right by `delta` columns, as its key grew (a comment
    token holds its column, where it was read)."""
    if not isinstance(token, CommentToken) or token.start_mark is None or "\n" in \
            token.value.rstrip("\n"):
        return token
    mark = copy.copy(token.start_mark)
    mark.column += delta
    return CommentToken(token.value, mark, token.end_mark)


def _flow_map(**items: Any) -> CommentedMap:
    m = CommentedMap(items)
    m.fa.set_flow_style()
    return m


def _pins(spec: CommentedMap) -> None:
    """`pins: {inputs: {NAME: TYPE}, outputs: ...}` → `inputs: [{name, type}]`, `outputs: ...`
    where `pins` stood; a pin's end-of-line comment follows it."""
    if "pins" not in spec:
        return
    i = list(spec).index("pins")
    pins = spec.pop("pins")
    spec.ca.items.pop("pins", None)
    for side in ("inputs", "outputs"):
        if side not in pins:
            continue
        names: CommentedMap = pins[side]
        seq = CommentedSeq(_flow_map(name=k, type=v) for k, v in names.items())
        if names.fa.flow_style() or not names:
            seq.fa.set_flow_style()
        for j, key in enumerate(names):
            comment = names.ca.items.get(key)
            if comment and comment[2] is not None:
                seq.ca.items[j] = [comment[2], None]
        spec.insert(i, side, seq)
        side_comment = pins.ca.items.get(side)
        if side_comment is not None:
            spec.ca.items[side] = side_comment
        i += 1


def _edges(spec: CommentedMap) -> None:
    edges = spec.get("edges")
    if not isinstance(edges, CommentedSeq):
        return
    for j, edge in enumerate(edges):
        src, dst = split_edge(str(edge))
        edges[j] = _flow_map(**{"from": src, "to": dst})


def _unwritable(root: Path, rel: str) -> Diagnostic | None:
    """Refuse a file marked read-only (even for root, who could write it) or that this user
    cannot write, and a directory where the new file cannot be created."""
    path = root / rel
    try:
        st = path.stat()
    except OSError as e:
        return Diagnostic("M702", f"cannot rewrite: {e.strerror}", rel)
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        return Diagnostic("M702", "file is read-only: it was not migrated", rel,
                          hint="make it writable (chmod u+w) and run migrate again")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return Diagnostic("M702", "its directory is not writable: the file was not migrated",
                          rel)
    return None


def write(root: Path, change: Change) -> None:
    """Replace one file atomically (a new file renamed over it), keeping its mode."""
    path = root / change.file
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".migrate", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(change.after)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
