"""Static checks of a CEL expression before anything is evaluated.

The CEL library we evaluate with (`common-expression-language`, cel-rust) parses but does not
type-check: an unknown variable, an unknown function or a rule that yields an int would only
show up while evaluating a document. Kubernetes type-checks ValidatingAdmissionPolicy
expressions; we do the part that matters for a rule here, on our own small parser of the CEL
grammar (https://github.com/google/cel-spec/blob/master/doc/langdef.md#syntax): result type,
variables in scope (comprehension variables included), known functions, nesting depth.
Syntax errors are left to the library's parser, which stays the authority on the language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Analysis",
    "CelError",
    "Type",
    "analyze",
    "check_size",
    "inline",
]

MAX_LENGTH = 10_000  # characters in one expression
MAX_DEPTH = 48  # nesting of brackets and operators: a guard for the parsers' stacks


class Type(StrEnum):
    BOOL = "bool"
    INT = "int"
    UINT = "uint"
    DOUBLE = "double"
    STRING = "string"
    BYTES = "bytes"
    NULL = "null_type"
    LIST = "list"
    MAP = "map"
    TYPE = "type"
    TIMESTAMP = "timestamp"
    DURATION = "duration"
    DYN = "dyn"  # known only at evaluation time
    NONBOOL = "non-bool value"  # arithmetic over dyn: some type, never bool


# Functions of the CEL standard definitions both cel-rust and Kubernetes provide, with their
# result type. Only these may be called, so a rule that works here also works at admission.
FUNCTIONS: dict[str, Type] = {
    "size": Type.INT,
    "contains": Type.BOOL,
    "startsWith": Type.BOOL,
    "endsWith": Type.BOOL,
    "matches": Type.BOOL,
    "int": Type.INT,
    "uint": Type.UINT,
    "double": Type.DOUBLE,
    "string": Type.STRING,
    "bytes": Type.BYTES,
    "dyn": Type.DYN,
    "type": Type.TYPE,
    "timestamp": Type.TIMESTAMP,
    "duration": Type.DURATION,
}
_MACROS = {"all": Type.BOOL, "exists": Type.BOOL, "exists_one": Type.BOOL,
           "map": Type.LIST, "filter": Type.LIST}
# Type names are values too: `type(x) == string`.
_TYPE_NAMES = {"bool", "int", "uint", "double", "string", "bytes", "list", "map", "null_type",
               "type"}
_RESERVED = {"as", "break", "const", "continue", "else", "for", "function", "if", "import",
             "let", "loop", "package", "namespace", "return", "var", "void", "while"}


class CelError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message, self.offset = message, offset


@dataclass(frozen=True, slots=True)
class Analysis:
    type: Type
    variables: frozenset[str]  # free variables the expression reads (top-level names)
    selected: frozenset[str] = field(default_factory=frozenset)  # names read as `variables.X`


# --- tokens -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|//[^\n]*)
  | (?P<num>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)
  | (?P<str>[rRbB]{0,2}(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<id>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,\[\](){}])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num | str | id | op | eof
    text: str
    offset: int


def _tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise CelError(f"unexpected character {src[pos]!r}", pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            toks.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    toks.append(_Tok("eof", "", len(src)))
    return toks


def _literal_type(tok: _Tok) -> Type:
    if tok.kind == "str":
        prefix = tok.text[: len(tok.text) - len(tok.text.lstrip("rRbB"))]
        return Type.BYTES if "b" in prefix.lower() else Type.STRING
    text = tok.text.lower()
    if text.endswith("u"):
        return Type.UINT
    if not text.startswith("0x") and ("." in text or "e" in text):
        return Type.DOUBLE
    return Type.INT


# --- parser with type inference ---------------------------------------------------------

_RELOPS = {"<", "<=", ">", ">=", "==", "!=", "in"}
_NUMERIC = {Type.INT, Type.UINT, Type.DOUBLE}


def _join(a: Type, b: Type) -> Type:
    """The type of `c ? a : b`: its branches must agree, dyn standing for anything."""
    if a == b:
        return a
    if Type.DYN in (a, b):
        return Type.DYN
    if Type.BOOL in (a, b):
        raise _Mismatch(a, b)
    return Type.NONBOOL


def _arith_result(a: Type, b: Type) -> Type:
    """CEL arithmetic is homogeneous (no implicit conversion) except timestamp/duration."""
    if {a, b} & {Type.TIMESTAMP, Type.DURATION, Type.NONBOOL}:
        return a if a == b and a != Type.NONBOOL else Type.NONBOOL
    if a == b:
        return Type.NONBOOL if a == Type.DYN else a
    if Type.DYN in (a, b):
        return b if a == Type.DYN else a
    return Type.NONBOOL


class _Mismatch(Exception):
    def __init__(self, a: Type, b: Type) -> None:
        super().__init__(f"{a} and {b}")


class _Parser:
    def __init__(self, src: str, scope: frozenset[str], declared: Mapping[str, Type]) -> None:
        self.toks = _tokenize(src)
        self.i = 0
        self.scope = scope  # variables the caller provides
        self.declared = declared  # `variables.NAME` the rule declares, with their types
        self.bound: list[str] = []  # comprehension variables currently in scope
        self.free: set[str] = set()
        self.selected: set[str] = set()
        self.depth = 0

    # helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _next(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def _at(self, text: str) -> bool:
        t = self.tok
        return t.kind in ("op", "id") and t.text == text

    def _expect(self, text: str) -> _Tok:
        if not self._at(text):
            raise CelError(f"expected '{text}', found {self._describe()}", self.tok.offset)
        return self._next()

    def _describe(self) -> str:
        return "end of expression" if self.tok.kind == "eof" else repr(self.tok.text)

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > 2 * MAX_DEPTH:  # brackets are bounded by check_size; '?:' chains are not
            raise CelError("expression nested too deeply", self.tok.offset)

    # grammar
    def parse(self) -> Type:
        t = self.expr()
        if self.tok.kind != "eof":
            raise CelError(f"unexpected {self._describe()}", self.tok.offset)
        return t

    def expr(self) -> Type:
        self._enter()
        start = self.tok.offset
        cond = self.cond_or()
        if self._at("?"):
            self._next()
            a = self.cond_or()
            self._expect(":")
            b = self.expr()
            self._need_bool(cond, start, "the condition of '?:'")
            try:
                cond = _join(a, b)
            except _Mismatch as m:
                raise CelError(f"the branches of '?:' have different types ({m})", start) from None
        self.depth -= 1
        return cond

    def _need_bool(self, t: Type, offset: int, what: str) -> None:
        if t not in (Type.BOOL, Type.DYN):
            raise CelError(f"{what} must be bool, not {t}", offset)

    def _logic(self, sub: str, op: str) -> Type:
        start = self.tok.offset
        t = getattr(self, sub)()
        while self._at(op):
            self._next()
            rhs_start = self.tok.offset
            rhs = getattr(self, sub)()
            self._need_bool(t, start, f"the left operand of '{op}'")
            self._need_bool(rhs, rhs_start, f"the right operand of '{op}'")
            t = Type.BOOL
        return t

    def cond_or(self) -> Type:
        return self._logic("cond_and", "||")

    def cond_and(self) -> Type:
        return self._logic("relation", "&&")

    def relation(self) -> Type:
        t = self.addition()
        while self.tok.text in _RELOPS and self.tok.kind in ("op", "id"):
            self._next()
            self.addition()
            t = Type.BOOL
        return t

    def _arith(self, sub: str, ops: set[str]) -> Type:
        t: Type = getattr(self, sub)()
        while self.tok.kind == "op" and self.tok.text in ops:
            op = self._next()
            rhs: Type = getattr(self, sub)()
            if Type.BOOL in (t, rhs):
                raise CelError(f"operator '{op.text}' is not defined on bool", op.offset)
            t = _arith_result(t, rhs)
        return t

    def addition(self) -> Type:
        return self._arith("multiplication", {"+", "-"})

    def multiplication(self) -> Type:
        return self._arith("unary", {"*", "/", "%"})

    def unary(self) -> Type:
        if self._at("!"):
            op = self._next()
            t = self.unary()
            self._need_bool(t, op.offset, "the operand of '!'")
            return Type.BOOL
        if self._at("-"):
            op = self._next()
            t = self.unary()
            if t == Type.BOOL:
                raise CelError("operator '-' is not defined on bool", op.offset)
            return t if t in _NUMERIC else Type.NONBOOL
        return self.member()

    def member(self) -> Type:
        t, name = self.primary()
        while True:
            if self._at("."):
                self._next()
                ident = self.tok
                if ident.kind != "id":
                    raise CelError(f"expected a field name, found {self._describe()}", ident.offset)
                self._next()
                t = self._call(ident, receiver=t) if self._at("(") else self._select(name, ident)
                name = None
            elif self._at("["):
                self._next()
                self.expr()
                self._expect("]")
                t, name = Type.DYN, None
            elif self._at("{"):
                raise CelError("message construction is not supported", self.tok.offset)
            else:
                return t

    def _select(self, base: str | None, ident: _Tok) -> Type:
        if base == "variables":
            if ident.text not in self.declared:
                raise CelError(f"undeclared variable 'variables.{ident.text}'", ident.offset)
            self.selected.add(ident.text)
            return self.declared[ident.text]
        return Type.DYN

    def primary(self) -> tuple[Type, str | None]:
        tok = self.tok
        if tok.kind == "num":
            self._next()
            return _literal_type(tok), None
        if tok.kind == "str":
            self._next()
            return _literal_type(tok), None
        if tok.kind == "id":
            self._next()
            if tok.text in ("true", "false"):
                return Type.BOOL, None
            if tok.text == "null":
                return Type.NULL, None
            if tok.text in _RESERVED:
                raise CelError(f"'{tok.text}' is a reserved word", tok.offset)
            if self._at("("):
                return self._call(tok, receiver=None), None
            if tok.text in self.bound:
                return Type.DYN, None
            if tok.text in _TYPE_NAMES and tok.text not in self.scope:
                return Type.TYPE, None
            if tok.text not in self.scope:
                known = ", ".join(sorted(self.scope)) or "none"
                raise CelError(f"unknown variable '{tok.text}' (known: {known})", tok.offset)
            self.free.add(tok.text)
            return Type.DYN, tok.text
        if self._at("."):
            raise CelError("qualified names ('.name') are not supported", tok.offset)
        if self._at("("):
            self._next()
            t = self.expr()
            self._expect(")")
            return t, None
        if self._at("["):
            self._next()
            self._items("]", pairs=False)
            return Type.LIST, None
        if self._at("{"):
            self._next()
            self._items("}", pairs=True)
            return Type.MAP, None
        raise CelError(f"unexpected {self._describe()}", tok.offset)

    def _items(self, close: str, *, pairs: bool) -> None:
        while not self._at(close):
            self.expr()
            if pairs:
                self._expect(":")
                self.expr()
            if not self._at(","):
                break
            self._next()
        self._expect(close)

    def _call(self, name: _Tok, receiver: Type | None) -> Type:
        self._expect("(")
        if receiver is None and name.text == "has":
            return self._has(name)
        if receiver is not None and name.text in _MACROS:
            return self._macro(name)
        if name.text not in FUNCTIONS:
            raise CelError(
                f"unknown function '{name.text}' (known: {', '.join(sorted(FUNCTIONS))})",
                name.offset,
            )
        self._items(")", pairs=False)
        return FUNCTIONS[name.text]

    def _has(self, name: _Tok) -> Type:
        start = self.tok.offset
        before = self.i
        self.member()
        last = self.toks[self.i - 1]
        if self.toks[self.i - 2].text != "." or last.kind != "id" or self.i - before < 3:
            raise CelError("has() takes a field selection, e.g. has(object.spec)", start)
        self._expect(")")
        return Type.BOOL

    def _macro(self, name: _Tok) -> Type:
        var = self.tok
        if var.kind != "id" or var.text in _RESERVED or var.text in ("true", "false", "null"):
            raise CelError(f"{name.text}() needs a variable name first", var.offset)
        self._next()
        self._expect(",")
        self.bound.append(var.text)
        args = 0
        while True:
            start = self.tok.offset
            t = self.expr()
            args += 1
            if name.text in ("all", "exists", "exists_one", "filter") and args == 1:
                self._need_bool(t, start, f"the predicate of {name.text}()")
            if name.text == "map" and args == 1 and self._at(","):
                self._need_bool(t, start, "the filter of map()")
            if not self._at(","):
                break
            self._next()
        self.bound.pop()
        self._expect(")")
        most = 2 if name.text == "map" else 1
        if args > most:
            raise CelError(f"{name.text}() takes at most {most + 1} arguments", name.offset)
        return _MACROS[name.text]


def check_size(src: str) -> None:
    """Refuse what could overflow a parser's stack (ours or the library's) before parsing.

    Counts bracket nesting outside string literals and runs of prefix operators.
    """
    if len(src) > MAX_LENGTH:
        raise CelError(f"expression longer than {MAX_LENGTH} characters", 0)
    depth = 0
    run = 0
    for tok in _tokenize(src):
        if tok.kind == "op" and tok.text in "([{":
            depth += 1
        elif tok.kind == "op" and tok.text in ")]}":
            depth -= 1
        run = run + 1 if tok.kind == "op" and tok.text in "!-" else 0
        if depth > MAX_DEPTH or run > MAX_DEPTH:
            raise CelError(f"expression nested deeper than {MAX_DEPTH} levels", tok.offset)


def analyze(
    src: str, scope: frozenset[str], declared: Mapping[str, Type] | None = None
) -> Analysis:
    """Result type and variables of `src`, or CelError(message, offset) for what cannot run.

    `scope` are the variables the caller binds; `declared` the rule's own `variables.NAME`.
    """
    check_size(src)
    p = _Parser(src, scope, declared or {})
    try:
        t = p.parse()
    except RecursionError:
        raise CelError("expression nested too deeply", 0) from None
    return Analysis(t, frozenset(p.free), frozenset(p.selected))


def inline(src: str, variables: Mapping[str, str]) -> str:
    """`src` with every `variables.NAME` replaced by `(NAME's expression)`, recursively.

    Expressions are pure, so this is the same value; it lets one compiled program run per
    (rule, document) instead of one per variable, each re-converting the document.
    """
    toks = _tokenize(src)
    out: list[str] = []
    pos = i = 0
    while i < len(toks):
        t = toks[i]
        if (t.kind == "id" and t.text == "variables" and i + 2 < len(toks)
                and toks[i + 1].text == "." and toks[i + 2].text in variables
                and (i == 0 or toks[i - 1].text != ".")):
            name = toks[i + 2]
            out.append(src[pos:t.offset])
            out.append("(" + variables[name.text] + ")")
            pos = name.offset + len(name.text)
            i += 3
            continue
        i += 1
    out.append(src[pos:])
    return "".join(out)
