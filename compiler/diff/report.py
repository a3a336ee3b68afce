"""A `DiffReport` as text (a terminal), JSON (scripts) or Markdown pull-request comments.

Markdown comes as a list of comments, each at most `limit` bytes of UTF-8 (GitHub refuses a
comment over 65,536 characters; bytes are never fewer), each starting with a stable marker
line, `<!-- mentatctl-diff:<workspace>:part-<n> -->`, so a workflow updates its comments in
place and deletes the ones a shorter diff no longer needs. The summary (targets, policy,
cost, digest) comes first; each object's diff is a collapsed `<details>`. Nothing is dropped:
a diff larger than one comment is cut at line boundaries into numbered pieces.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from compiler.diff.compare import DiffReport, FindingKey, ObjectChange

__all__ = ["COMMENT_LIMIT", "marker", "render_json", "render_markdown", "render_text"]

COMMENT_LIMIT = 65_536
_SIGN = {"added": "+", "removed": "-", "changed": "~"}


def marker(workspace: str, part: int) -> str:
    return f"<!-- mentatctl-diff:{workspace}:part-{part} -->"


def _money(x: Decimal) -> str:
    return f"{x:.4f}"


def _delta(x: Decimal) -> str:
    return ("+" if x > 0 else "") + _money(x)


def _target_rows(r: DiffReport) -> list[tuple[str, int, int, int]]:
    rows = []
    for t in r.targets():
        ops = [c.op for c in r.changes if c.target == t]
        rows.append((t, ops.count("added"), ops.count("removed"), ops.count("changed")))
    return rows


# --- JSON ------------------------------------------------------------------------------------

def render_json(r: DiffReport) -> str:
    def side(s: Any) -> dict[str, str]:
        return {"ref": s.ref, "commit": s.commit, "treeDigest": f"sha256:{s.tree_digest}"}

    doc: dict[str, Any] = {
        "ok": True,
        "workspace": r.workspace,
        "base": side(r.base),
        "head": side(r.head),
        "summary": {"added": r.count("added"), "removed": r.count("removed"),
                    "changed": r.count("changed"), "unchanged": r.unchanged},
        "targets": [{"target": t, "added": a, "removed": d, "changed": c}
                    for t, a, d, c in _target_rows(r)],
        "objects": [c.to_dict() for c in r.changes],
        "files": {k: list(v) for k, v in r.files.items()},
        "policy": {"new": [f.to_dict() for f in r.new_findings],
                   "fixed": [f.to_dict() for f in r.fixed_findings]},
        "cost": None if r.cost is None or r.cost_total is None else {
            "flows": [c.to_dict() for c in r.cost],
            "total": {"base": str(r.cost_total[0]), "head": str(r.cost_total[1]),
                      "delta": str(r.cost_total[1] - r.cost_total[0])},
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


# --- text ------------------------------------------------------------------------------------

def _finding_line(mark: str, f: FindingKey) -> str:
    return f"  {mark} {f.status} {f.severity} {f.rule}: {f.object}: {f.message}".rstrip(": ")


def render_text(r: DiffReport) -> str:
    out = [f"mentatctl diff {r.workspace}: base {r.base.ref} ({r.base.commit[:12]}) -> "
           f"head {r.head.ref} ({r.head.commit[:12]})",
           f"head rendered tree: sha256:{r.head.tree_digest}",
           f"objects: {r.count('added')} added, {r.count('removed')} removed, "
           f"{r.count('changed')} changed, {r.unchanged} unchanged"]
    for t, a, d, c in _target_rows(r):
        out.append(f"\n{t}: {a} added, {d} removed, {c} changed")
        for ch in (c for c in r.changes if c.target == t):
            out.append(f"  {_SIGN[ch.op]} {ch.kind} {ch.name}")
            if ch.op == "changed":
                out += ["      " + line for line in ch.diff.splitlines()]
    for op in ("added", "removed", "changed"):
        for p in r.files[op]:
            out.append(f"file {op}: {p}")
    if r.new_findings or r.fixed_findings:
        out.append(f"\npolicy: {len(r.new_findings)} new, {len(r.fixed_findings)} fixed")
        out += [_finding_line("new", f) for f in r.new_findings]
        out += [_finding_line("fixed", f) for f in r.fixed_findings]
    if r.cost is not None and r.cost_total is not None:
        base, head = r.cost_total
        out.append(f"\ncost per month: {_money(base)} -> {_money(head)} ({_delta(head - base)})")
        out += [f"  {c.flow}: {_money(c.base)} -> {_money(c.head)} ({_delta(c.delta)})"
                for c in r.cost]
    return "\n".join(out) + "\n"


# --- Markdown --------------------------------------------------------------------------------

def _md(text: str) -> str:
    return re.sub(r"([|\\`*_<>\[\]])", r"\\\1", text).replace("\n", " ")


def _code(text: str) -> str:
    """Inline code: nothing inside is escaped, so only a backtick needs replacing."""
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def _summary(r: DiffReport) -> str:
    n = len(r.changes)
    lines = [
        f"## mentatctl diff: `{r.workspace}`",
        "",
        f"base {_code(r.base.ref)} (`{r.base.commit[:12]}`) → head {_code(r.head.ref)} "
        f"(`{r.head.commit[:12]}`): **{n} object(s) differ**, {r.unchanged} unchanged.",
        "",
        f"Head rendered tree: `sha256:{r.head.tree_digest}` (the digest `mentatctl sign` "
        "signs and an apply attests).",
        "",
    ]
    if n:
        lines += ["| target | added | removed | changed |", "|---|---:|---:|---:|"]
        lines += [f"| `{t}` | {a} | {d} | {c} |" for t, a, d, c in _target_rows(r)]
        lines += [f"| **total** | {r.count('added')} | {r.count('removed')} "
                  f"| {r.count('changed')} |", ""]
    if any(r.files.values()):
        lines += ["Other files: " + ", ".join(
            f"{len(v)} {k}" for k, v in r.files.items() if v) + " (listed below).", ""]
    lines += ["### Policy", ""]
    if r.new_findings or r.fixed_findings:
        lines += ["| | rule | severity | object | message |", "|---|---|---|---|---|"]
        lines += [f"| new {f.status} | `{f.rule}` | {f.severity} | {_md(f.object)} "
                  f"| {_md(f.message)} |" for f in r.new_findings]
        lines += [f"| fixed {f.status} | `{f.rule}` | {f.severity} | {_md(f.object)} "
                  f"| {_md(f.message)} |" for f in r.fixed_findings]
    else:
        lines.append("No policy finding is new or fixed.")
    lines.append("")
    if r.cost is not None and r.cost_total is not None:
        base, head = r.cost_total
        lines += ["### Cost (monthly estimate)", "",
                  "| flow | base | head | delta |", "|---|---:|---:|---:|"]
        for c in r.cost:
            versions = ""
            if c.base_versions != c.head_versions:
                versions = (f" ({', '.join(c.base_versions) or 'none'} → "
                            f"{', '.join(c.head_versions) or 'none'})")
            lines.append(f"| `{c.flow}`{versions} | {_money(c.base)} | {_money(c.head)} "
                         f"| {_delta(c.delta)} |")
        lines += [f"| **total** | {_money(base)} | {_money(head)} | **{_delta(head - base)}** |",
                  ""]
    return "\n".join(lines) + "\n"


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _details(title: str, body: str) -> str:
    fence = _fence(body)
    return (f"<details><summary>{title}</summary>\n\n{fence}diff\n{body}"
            f"{'' if body.endswith(chr(10)) else chr(10)}{fence}\n\n</details>\n\n")


def _size(text: str) -> int:
    return len(text.encode())


def _blocks(c: ObjectChange, room: int) -> list[str]:
    """One object's diff as `<details>` blocks of at most `room` bytes each."""
    title = f"<code>{_SIGN[c.op]} {c.target} {c.kind} {c.name}</code> ({c.op})"
    if c.op == "removed":
        return [f"- <code>- {c.target} {c.kind} {c.name}</code> (removed)\n\n"]
    whole = _details(title, c.diff)
    if _size(whole) <= room:
        return [whole]
    overhead = _size(_details(f"{title}, piece 9999 of 9999", "")) + 64
    width = room - overhead
    lines: list[str] = []
    for line in c.diff.splitlines(keepends=True):
        while _size(line) > width:  # a line longer than a comment: cut, never dropped
            cut = line.encode()[:width].decode(errors="ignore")
            lines.append(cut + "\n")
            line = line[len(cut):]
        lines.append(line)
    pieces: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if pieces[-1] and size + _size(line) > width:
            pieces.append([])
            size = 0
        pieces[-1].append(line)
        size += _size(line)
    return [_details(f"{title}, piece {i} of {len(pieces)}", "".join(p))
            for i, p in enumerate(pieces, 1)]


def render_markdown(r: DiffReport, limit: int = COMMENT_LIMIT) -> list[str]:
    """The comments, in order; each at most `limit` bytes and complete together."""
    head_room = _size(marker(r.workspace, 9999) + "\n\n_part 9999 of 9999_\n\n")
    room = limit - head_room
    if room < 1024:
        raise ValueError(f"a comment limit of {limit} bytes leaves no room for a diff")
    blocks: list[str] = []
    summary = _summary(r)
    if _size(summary) > room:  # a very long policy or cost table: cut at line boundaries
        part: list[str] = []
        size = 0
        for line in summary.splitlines(keepends=True):
            if part and size + _size(line) > room:
                blocks.append("".join(part))
                part, size = [], 0
            part.append(line)
            size += _size(line)
        blocks.append("".join(part))
    else:
        blocks.append(summary)
    if r.changes:
        blocks.append("### Objects\n\n")
    for c in r.changes:
        blocks += _blocks(c, room)
    listed = [f"- {op}: `{p}`\n" for op, paths in r.files.items() for p in paths]
    if listed:
        blocks.append("### Other files\n\n")
        blocks += listed
    parts: list[list[str]] = [[]]
    size = 0
    for b in blocks:
        if parts[-1] and size + _size(b) > room:
            parts.append([])
            size = 0
        parts[-1].append(b)
        size += _size(b)
    total = len(parts)
    out = []
    for i, p in enumerate(parts, 1):
        note = f"_part {i} of {total}_\n\n" if total > 1 else ""
        out.append(f"{marker(r.workspace, i)}\n{note}{''.join(p)}".rstrip("\n") + "\n")
    return out
