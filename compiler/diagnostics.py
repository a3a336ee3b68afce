"""One `Diagnostic` type for every problem any stage finds, and its renderers.

Stages collect diagnostics and return them; they never raise for bad input. The CLI renders
them as `path:line:col: error[CODE]: message` (like a compiler), JSON, or GitHub annotations.
Codes are stable: scripts and docs depend on them; `CODES` is the one table of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum

__all__ = [
    "CODES",
    "MAX_SHOWN",
    "REDACTED",
    "Diagnostic",
    "Severity",
    "has_errors",
    "redact",
    "render_github",
    "render_text",
    "shown",
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
    "M112": "number out of range (beyond 64-bit integers, NaN or infinity)",
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
    "M514": "wasm module can wait in a host call (a warning: the wall-clock limit still holds)",
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


REDACTED = "***"
# Credentials as they appear in text. Each keeps what says where the secret was (the scheme,
# the host, a parameter's name) and replaces the secret itself. Pattern texts, compiled by `re`
# on first use (its cache): most processes redact nothing, and compiling them all cost
# ~1.5 ms of every start.
_URL_USERINFO = r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@'\"]*@"  # HTTP://u:p@h
_BARE_USERINFO = r"(?<![\w.:/@-])[^\s:/?#@'\"(){}\[\],]+:[^\s/?#@'\"]*@(?=[\w\[])"
_URL_WITH_PARAMS = r"[^\s'\"]*[?#][^\s'\"]*=[^\s'\"]*"  # ?X-Amz-Signature=...
_PARAM_VALUE = r"([?&#;][^=\s&#;'\"]*=)[^&#;\s'\"]*"
_KEYS = (r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
         r"client[_-]?secret|auth|credentials?|session[_-]?token)")
_NAMED = (  # password=...; "token": "..." (data quoted in a message), not prose
    rf"(?i)(\b[\w-]*{_KEYS}\s*=\s*)[^\s'\",;&}}]+|(['\"][\w-]*{_KEYS}['\"]\s*:\s*)(['\"])(?:\\.|(?!\3).)*\3")
_AUTH_SCHEME = r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
_KNOWN_FORMS = (  # keys whose shape says what they are
    r"(?s)\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bxox[abpr]-[A-Za-z0-9-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)")
# An env entry as data shows it (a document quoted in a message): its value goes
_ENV_VALUE = r"""(['"]value['"]\s*:\s*)(['"])(?:\\.|(?!\2).)*\2"""
# What any of the forms above needs: most messages hold none of it (substring tests in C are
# cheaper than one regex search with case-insensitive alternatives)
_TRIGGERS = ("@", "=", "':", '":', "-----", "AKIA", "ASIA", "gh", "xox", "earer", "EARER",
             "asic", "ASIC")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials: URL userinfo (with or without a scheme), the values of URL
    query and fragment parameters, `password=`-style pairs, bearer tokens, keys of known
    shapes, private keys, env values of a quoted document, and each of `secrets` (values
    known to be secret where the text was made, e.g. a document's env values). Every
    diagnostic goes through it when made (`Diagnostic.__post_init__`)."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    if not any(t in text for t in _TRIGGERS):
        return text  # the common case: nothing here can be a credential
    text = re.sub(_KNOWN_FORMS, REDACTED, text)
    text = re.sub(_URL_USERINFO, rf"\1{REDACTED}@", text)
    text = re.sub(_BARE_USERINFO, f"{REDACTED}@", text)
    text = re.sub(_URL_WITH_PARAMS,
                  lambda m: re.sub(_PARAM_VALUE, rf"\1{REDACTED}", m[0]), text)
    text = re.sub(_NAMED, lambda m: f"{m[1]}{REDACTED}" if m[1] else f"{m[2]}'{REDACTED}'",
                  text)
    text = re.sub(_AUTH_SCHEME, rf"\1 {REDACTED}", text)
    return re.sub(_ENV_VALUE, rf"\1'{REDACTED}'", text)


def _printable(text: str) -> str:
    """Text any renderer can encode: a file name of undecodable bytes (surrogate escapes)
    is shown with backslash escapes instead of crashing the output."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem. Its message and hint are redacted when it is made (`redact`): no
    renderer, cache entry or report built from diagnostics can print a credential."""

    code: str
    message: str
    file: str = ""
    line: int = 0  # 1-based; 0 when the problem has no line (a whole file, the workspace)
    col: int = 0  # 1-based
    severity: Severity = Severity.ERROR
    hint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", _printable(redact(self.message)))
        if self.hint:
            object.__setattr__(self, "hint", _printable(redact(self.hint)))
        if not self.file.isascii():
            object.__setattr__(self, "file", _printable(self.file))

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


MAX_SHOWN = 1000  # diagnostics printed per run; the rest are counted (700k bad documents)


def shown(diags: Iterable[Diagnostic], limit: int = MAX_SHOWN) -> tuple[list[Diagnostic], str]:
    """The first `limit` diagnostics in order, and a line counting the rest ("" if none)."""
    ordered = sorted(diags, key=sort_key)
    rest = ordered[limit:]
    if not rest:
        return ordered, ""
    errors = sum(d.severity is Severity.ERROR for d in rest)
    return ordered[:limit], (f"... and {len(rest)} more diagnostic(s) not shown ({errors} "
                             f"error(s), {len(rest) - errors} warning(s)); fix the first ones")


def render_text(diags: Iterable[Diagnostic]) -> str:
    lines = []
    first, more = shown(diags)
    for d in first:
        lines.append(f"{d.location()}: {d.severity}[{d.code}]: {d.message}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    return "\n".join([*lines, more] if more else lines)


def _github_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's toolkit does (escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    """A workflow command's property value (escapeProperty): also ':' and ','."""
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diags: Iterable[Diagnostic]) -> str:
    """GitHub Actions workflow commands, so problems show inline on the pull request."""
    out = []
    first, more = shown(diags)
    for d in first:
        level = "error" if d.severity is Severity.ERROR else "warning"
        msg = _github_data(d.message + (f" (hint: {d.hint})" if d.hint else ""))
        props = [f"file={_github_property(d.file)}"] if d.file else []
        if d.file and d.line:
            props += [f"line={d.line}", f"col={d.col or 1}"]
        props.append(f"title={d.code}")
        out.append(f"::{level} {','.join(props)}::{msg}")
    if more:
        out.append(f"::warning title=diagnostics::{more}")
    return "\n".join(out)
