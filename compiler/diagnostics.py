"""One `Diagnostic` type for every problem any stage finds, and its renderers.

Stages collect diagnostics and return them; they never raise for bad input. The CLI renders
them as `path:line:col: error[CODE]: message` (like a compiler), JSON, or GitHub annotations.
Codes are stable: scripts and docs depend on them; `CODES` is the one table of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum

__all__ = [
    "CODES",
    "Diagnostic",
    "Severity",
    "has_errors",
    "render_github",
    "render_text",
    "sort_key",
]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# Stable codes, grouped by stage: M1xx load, M2xx validate, M3xx link, M4xx policy,
# M5xx render / wasm, M6xx check, M7xx write, M8xx sign / verify, M9xx controller.
CODES: dict[str, str] = {
    "M100": "file cannot be read (missing, unreadable or not a regular file)",
    "M101": "file is not valid UTF-8",
    "M102": "YAML syntax error",
    "M103": "duplicate mapping key",
    "M104": "YAML tag not allowed (only plain YAML 1.1 core types)",
    "M105": "too many alias expansions (alias bomb)",
    "M106": "file too large",
    "M107": "path escapes the workspace",
    "M108": "workspace file (mentat.yaml) missing or not exactly one Workspace",
    "M109": "document is not a mapping",
    "M110": "nesting too deep",
    "M111": "deprecated apiVersion, converted on load (warning; `mentatctl migrate` rewrites it)",
    "M200": "missing or unknown apiVersion / kind",
    "M201": "schema violation",
    "M202": "unknown field",
    "M203": "invalid name (DNS-1123 label)",
    "M204": "invalid semantic version",
    "M205": "invalid cron schedule",
    "M206": "invalid reference syntax",
    "M207": "cron schedule never fires (warning)",
    "M300": "agent reference does not resolve",
    "M301": "(name, version) defined more than once",
    "M302": "edge endpoint does not exist",
    "M303": "edge connects pins of different types",
    "M304": "input pin not connected",
    "M305": "flow graph has a cycle",
    "M306": "duplicate node id",
    "M307": "unknown environment",
    "M308": "override refers to an unknown node",
    "M309": "input pin connected more than once",
    "M310": "agent module missing",
    "M400": "policy rule violated",
    "M401": "policy rule file invalid",
    "M402": "policy rule raised an error while evaluating",
    "M403": "waiver without a reason",
    "M404": "waiver names an unknown policy rule",
    "M500": "render error",
    "M510": "wasm module invalid",
    "M511": "wasm import not allowed by the agent's capabilities",
    "M512": "wasm module lacks a required export",
    "M513": "wasm capability grant invalid (files: DIR, DIR:ro or DIR:rw below the agent file)",
    "M520": "cost estimate incomplete (job without expectedDurationSeconds, bad quantity)",
    "M521": "region override names an unknown region, flow or node",
    "M522": "cost estimate needs spec.pricing",
    "M600": "rendered object fails the Kubernetes schema (compiler bug)",
    "M601": "rendered collector config is inconsistent (compiler bug)",
    "M700": "output tree differs from a fresh compile (--check)",
    "M701": "output cannot be written",
    "M702": "source file cannot be rewritten by migrate (read-only, not writable, or not reproducible)",
    "M800": "verification failed",
    "M801": "signing failed",
    "M802": "signature bundle missing, truncated or malformed",
    "M803": "signing certificate or its chain rejected (validity, extensions, trusted root)",
    "M804": "DSSE envelope rejected (signature invalid, wrong payload type, bad statement)",
    "M805": "output tree differs from what was signed (file changed, added or removed)",
    "M806": "PKI directory or signing key unusable",
    "M807": "Sigstore keyless signing or verification failed (OIDC, Fulcio, Rekor, identity)",
    "M900": "controller error",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    file: str = ""
    line: int = 0  # 1-based; 0 when the problem has no line (a whole file, the workspace)
    col: int = 0  # 1-based
    severity: Severity = Severity.ERROR
    hint: str = ""

    def location(self) -> str:
        if not self.file:
            return "<workspace>"
        if self.line:
            return f"{self.file}:{self.line}:{self.col or 1}"
        return self.file

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["severity"] = str(self.severity)
        return d


def sort_key(d: Diagnostic) -> tuple[str, int, int, str, str]:
    return (d.file, d.line, d.col, d.code, d.message)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diags)


def render_text(diags: Iterable[Diagnostic]) -> str:
    lines = []
    for d in sorted(diags, key=sort_key):
        lines.append(f"{d.location()}: {d.severity}[{d.code}]: {d.message}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    return "\n".join(lines)


def render_github(diags: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so problems show inline on the pull request."""
    out = []
    for d in sorted(diags, key=sort_key):
        level = "error" if d.severity is Severity.ERROR else "warning"
        msg = d.message + (f" (hint: {d.hint})" if d.hint else "")
        msg = msg.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        loc = f"file={d.file}" if d.file else ""
        if d.line:
            loc += f",line={d.line},col={d.col or 1}"
        out.append(f"::{level} {loc},title={d.code}::{msg}")
    return "\n".join(out)
