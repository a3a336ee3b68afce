"""A fast block-YAML emitter for rendered objects, byte-identical to libyaml's output.

PyYAML spends most of a dump in Python (representer, resolver, serializer) even with
libyaml's emitter: at 10k objects it was 70% of a cold compile. Rendered objects are plain
data (dicts with str keys, lists, str, int, bool, None, float), so the structure is easy to
write directly. The one hard part, how a scalar must be written (plain, quoted, escaped, a
literal block), is still decided by libyaml: each distinct scalar is dumped once through the
reference dumper and its text memoised. Anything unusual (other types, complex keys, very
long or multi-line scalars outside a mapping value) falls back to the reference dumper for
the whole object, so the output never differs from it (tests compare both on whole trees).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Emitter", "dump_json"]

_LONG = 1024  # scalars longer than this go through libyaml whole (line folding at width)
# Strings libyaml certainly writes plain and that read back as strings: a letter first (no
# number, indicator or special float), no ': ', ' #', spaces or trailing ':', and not one of
# YAML 1.1's boolean or null words. Anything else is asked of libyaml once.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./@,=+-]*(?::[A-Za-z0-9_./@,=+-]+)*")
_BREAKS = re.compile("[\n\r\x85\u2028\u2029]")  # what libyaml treats as line breaks
_ODD_BREAKS = re.compile("[\r\x85\u2028\u2029]")
_WORDS = frozenset(
    w for base in ("yes", "no", "true", "false", "on", "off", "null", "y", "n")
    for w in (base, base.capitalize(), base.upper())
)


class _Fallback(Exception):
    """The object holds something only the reference dumper handles exactly."""


class Emitter:
    """Emit objects the way `reference` (a libyaml dump of one object) does, much faster."""

    def __init__(self, reference: Callable[[Any], bytes]) -> None:
        self._ref = reference
        self._values: dict[tuple[type, Any], str] = {}  # single-line value renderings
        self._blocks: dict[str, list[str]] = {}  # multi-line value: header, continuation lines
        self._keys: dict[str, str] = {}
        self._seen: set[int] = set()

    def dump(self, obj: Any) -> bytes:
        if not isinstance(obj, dict) or not obj:
            return self._ref(obj)
        out: list[str] = []
        self._seen: set[int] = {id(obj)}
        try:
            self._mapping(obj, "", out)
        except _Fallback:
            return self._ref(obj)
        return "".join(out).encode()

    # --- scalars, rendered once by libyaml ----------------------------------------------

    def _probe(self, value: Any) -> list[str]:
        text = self._ref({"k": value}).decode()
        if not text.startswith("k: ") or not text.endswith("\n"):
            raise _Fallback
        return text[3:-1].split("\n")

    def _value(self, v: Any) -> str:
        t = type(v)
        key = (t, v)
        hit = self._values.get(key)
        if hit is not None:
            return hit
        if t is bool:
            text = "true" if v else "false"
        elif t is int:
            text = str(v)
        elif v is None:
            text = "null"
        elif t is str and len(v) <= _LONG and _PLAIN.fullmatch(v) and v not in _WORDS:
            text = v
        elif t is str or t is float:
            if t is str and (len(v) > _LONG or _BREAKS.search(v)):
                raise _Fallback  # a break's indentation depends on where the scalar sits
            lines = self._probe(v)
            if len(lines) != 1:
                raise _Fallback
            text = lines[0]
        else:
            raise _Fallback
        self._values[key] = text
        return text

    def _block(self, v: str) -> list[str]:
        hit = self._blocks.get(v)
        if hit is None:
            if len(v) > 64 * _LONG or _ODD_BREAKS.search(v):
                raise _Fallback
            hit = self._probe(v)
            # Continuation lines are indented relative to the key (2 spaces at top level).
            if len(hit) < 2 or any(line and not line.startswith("  ") for line in hit[1:]):
                raise _Fallback
            self._blocks[v] = hit
        return hit

    def _key(self, k: Any) -> str:
        hit = self._keys.get(k) if type(k) is str else None
        if hit is not None:
            return hit
        if type(k) is not str or len(k) > 120 or "\n" in k:
            raise _Fallback  # libyaml writes long or multi-line keys as complex keys ("? ")
        if _PLAIN.fullmatch(k) and k not in _WORDS:
            self._keys[k] = k
            return k
        text = self._ref({k: None}).decode()
        if not text.endswith(": null\n") or "\n" in text[:-7]:
            raise _Fallback
        self._keys[k] = text[:-7]
        return text[:-7]

    def _shared(self, v: Any) -> None:
        # A container reached twice becomes an anchor and alias in libyaml's output.
        ident = id(v)
        if ident in self._seen:
            raise _Fallback
        self._seen.add(ident)

    # --- structure -----------------------------------------------------------------------

    def _mapping(self, d: dict[str, Any], indent: str, out: list[str]) -> None:
        """Entries of a non-empty mapping, each on its own line starting at `indent`
        (the caller has already written the indentation of the first one)."""
        first = True
        for k, v in d.items():
            if not first:
                out.append(indent)
            first = False
            out.append(self._key(k))
            t = type(v)
            if t is dict or t is list:
                self._shared(v)
            if t is dict:
                if v:
                    out.append(":\n")
                    out.append(indent + "  ")
                    self._mapping(v, indent + "  ", out)
                else:
                    out.append(": {}\n")
            elif t is list:
                if v:
                    out.append(":\n")
                    out.append(indent)  # sequences in mappings are not indented
                    self._sequence(v, indent, out)
                else:
                    out.append(": []\n")
            elif t is str and "\n" in v:
                lines = self._block(v)
                out.append(": " + lines[0] + "\n")
                for line in lines[1:]:
                    out.append((indent + line if line else "") + "\n")
            else:
                out.append(": " + self._value(v) + "\n")

    def _sequence(self, items: list[Any], indent: str, out: list[str]) -> None:
        first = True
        for v in items:
            if not first:
                out.append(indent)
            first = False
            t = type(v)
            if t is dict or t is list:
                self._shared(v)
            if t is dict:
                if v:
                    out.append("- ")
                    self._mapping(v, indent + "  ", out)
                else:
                    out.append("- {}\n")
            elif t is list:
                if v:
                    out.append("- ")
                    self._sequence(v, indent + "  ", out)
                else:
                    out.append("- []\n")
            elif t is str and "\n" in v:
                raise _Fallback
            else:
                out.append("- " + self._value(v) + "\n")


def dump_json(value: Any, *, ensure_ascii: bool = True) -> str:
    """`json.dumps(value, indent=2, sort_keys=True, ensure_ascii=...)`, written directly:
    with `indent` the standard library falls back to its pure-Python encoder, ~2-5x slower
    for index.json and the graph ConfigMaps."""
    out: list[str] = []
    _json(value, "", out, _ASCII if ensure_ascii else _UNICODE)
    return "".join(out)


_ASCII = json.encoder.encode_basestring_ascii  # the C functions json.dumps uses
_UNICODE = json.encoder.encode_basestring


def _json(v: Any, indent: str, out: list[str], _encode_str: Callable[[str], str]) -> None:
    t = type(v)
    if t is str:
        out.append(_encode_str(v))
    elif t is dict:
        if not v:
            out.append("{}")
            return
        inner = indent + "  "
        out.append("{\n")
        first = True
        for k in sorted(v):
            if type(k) is not str:
                raise TypeError("dump_json: keys must be strings")
            if not first:
                out.append(",\n")
            first = False
            item = v[k]
            if type(item) is str:  # the common leaf, without a call
                out.append(inner + _encode_str(k) + ": " + _encode_str(item))
            else:
                out.append(inner + _encode_str(k) + ": ")
                _json(item, inner, out, _encode_str)
        out.append("\n" + indent + "}")
    elif t is list or t is tuple:
        if not v:
            out.append("[]")
            return
        inner = indent + "  "
        if all(type(x) is str for x in v):
            sep = ",\n" + inner
            out.append("[\n" + inner + sep.join(map(_encode_str, v)) + "\n" + indent + "]")
            return
        out.append("[\n")
        first = True
        for item in v:
            if not first:
                out.append(",\n")
            first = False
            out.append(inner)
            _json(item, inner, out, _encode_str)
        out.append("\n" + indent + "]")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif v is None:
        out.append("null")
    elif t is int:
        out.append(int.__repr__(v))
    else:
        out.append(json.dumps(v))  # floats and anything rarer: exactly as json writes them
