"""Rule files: find, parse, validate against their schema and compile their CEL, once per run.

A rule file holds one or more `PolicyRule` documents (schemas/mentatlab.io/v1/policy.json).
Every expression is parsed and type-checked by cel-expr-python (Google's cel-cpp) in an
environment shaped like a ValidatingAdmissionPolicy's, before any document is evaluated: a
syntax error, an undeclared variable or function, or a result that is not exactly `bool`
(`string` for messageExpression; `dyn` is refused, as Kubernetes refuses it) is reported (M401)
at its file, line and column and the rule is left out of the set. Parsing and compiling are
pure functions of the file's bytes, cached, so the policy stage and the ValidatingAdmissionPolicy
renderer share one compile.

The environment (`environment`): `object` and `workspace` are `dyn`, `siblings` a
`list(dyn)`; the functions are the CEL standard library, the strings extension at version 2
and optional types: the part of Kubernetes' CEL (1.29 and later) that cel-cpp also has.
Kubernetes' other libraries (lists, regex `find`, sets, quantity, url, ip/cidr, authz,
`format.named`) are undeclared here. Kubernetes checks three things cel-cpp does not: it refuses
mixed-type list/map literals and invalid regex literals (here the latter fails per document),
and it allows int/double comparisons (here refused: stricter is safe). Variables work as in a
ValidatingAdmissionPolicy: each is compiled on its own, may read the ones before it, and is
declared to the later expressions as `variables.NAME` with its checked type.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import jsonschema_rs
from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

from compiler import resources
from compiler.diagnostics import Diagnostic
from compiler.load import parse_yaml, read_source, resolve_inside, rule_files
from compiler.model.raw import RawDoc

__all__ = [
    "DEFAULT_PREFIX",
    "KUBE_RESOURCES",
    "SOURCE_KINDS",
    "STRINGS_VERSION",
    "Rule",
    "RuleSet",
    "environment",
    "load_dir",
    "load_rules",
    "parse_rule_file",
]

SOURCE_KINDS = frozenset({"Agent", "Flow", "Workspace"})
DEFAULT_PREFIX = "policies/"  # how diagnostics and reports name the default set's files

# Kinds a ValidatingAdmissionPolicy can match: kind -> (apiGroup, version, resource).
KUBE_RESOURCES: dict[str, tuple[str, str, str]] = {
    "ConfigMap": ("", "v1", "configmaps"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "Deployment": ("apps", "v1", "deployments"),
    "Job": ("batch", "v1", "jobs"),
    "Namespace": ("", "v1", "namespaces"),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies"),
    "Pod": ("", "v1", "pods"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "RuntimeClass": ("node.k8s.io", "v1", "runtimeclasses"),
    "Secret": ("", "v1", "secrets"),
    "Service": ("", "v1", "services"),
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
}

STRINGS_VERSION = 2  # ext.Strings(ext.StringsVersion(2)): Kubernetes 1.29 and later

_SOURCE_VARS: dict[str, cel.Type] = {"object": cel.Type.DYN, "workspace": cel.Type.DYN}
_RENDERED_VARS = {**_SOURCE_VARS, "siblings": cel.Type.List(cel.Type.DYN)}
_ADMISSION_VARS = {"object": cel.Type.DYN}  # all a ValidatingAdmissionPolicy has of ours
_CEL_POS = re.compile(r"ERROR: <input>:(-?\d+):(-?\d+): ([^\n]*)")
_NOISE = re.compile(r"^[A-Z_]+: | \(in container ''\)| \[[A-Z_]+\]$")  # status codes
# Values the binding cannot return to Python, so a variable cannot hold them
_UNPASSABLE = re.compile(r"optional_type|\btype<")
_HINT_FUNCTIONS = ("functions: the CEL standard library, strings extension (version "
                   f"{STRINGS_VERSION}) and optional types, as Kubernetes has them; Kubernetes' "
                   "other libraries (lists, regex find, sets, quantity, url, ip/cidr, authz, "
                   "format.named) are not available")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    description: str
    severity: str  # error | warning
    kinds: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]  # label selector, sorted
    phase: str  # "source" (Agent/Flow/Workspace documents) | "rendered" (Kubernetes objects)
    expression: str
    message: str | None
    message_expression: str | None
    variables: tuple[tuple[str, str], ...]  # (name, expression), in order
    enforce: bool
    file: str  # display path: workspace-relative, or policies/... for the default set
    line: int
    col: int
    env: cel.Env  # the environment of expression and messageExpression (variables declared)
    program: cel.Expression  # the checked expression, result type bool
    message_program: cel.Expression | None  # the checked messageExpression (string)
    variable_programs: tuple[tuple[str, cel.Expression], ...]  # in order, as `variables`
    # the expression with its variables bound in place (`bound`), when they hold only JSON
    bound_program: cel.Expression | None = None
    field_path: tuple[str | int, ...] = ()  # spec.fieldPath, parsed: the field the rule judges
    field_path_text: str = ""

    def matches(self, kind: str, labels: Any) -> bool:
        if kind not in self.kinds:
            return False
        if not self.labels:
            return True
        if not isinstance(labels, dict):
            return False
        return all(labels.get(k) == v for k, v in self.labels)


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]  # sorted by id
    diagnostics: tuple[Diagnostic, ...]
    files: Mapping[str, str] = field(default_factory=dict)  # workspace rule files -> sha256

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


@functools.cache
def _schema() -> dict[str, Any]:
    path = resources.schemas_dir() / "mentatlab.io" / "v1" / "policy.json"
    return json.loads(path.read_text())


@functools.cache
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(_schema())


def _validator() -> Any:
    """The detailed (and slow to import) validator, only for a rule file with errors."""
    import jsonschema

    return jsonschema.Draft202012Validator(_schema())


def _locate(lines: list[str], doc: RawDoc, path: tuple[str | int, ...], src: str, offset: int
            ) -> tuple[int, int]:
    """File line and column of character `offset` of the expression stored at `path`.

    Exact for literal blocks (`|`) and single-line scalars; other multi-line styles fold
    lines, so there we point at the scalar's first line.
    """
    pos = doc.pos(path)
    line_in = src.count("\n", 0, offset)
    col_in = offset - (src.rfind("\n", 0, offset) + 1)
    text = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
    first = text[pos.col - 1 : pos.col] if pos.col >= 1 else ""
    if first == "|":
        # the block's indentation is its first non-empty line's
        body = next((x for x in lines[pos.line:] if x.strip()), "")
        indent = len(body) - len(body.lstrip(" "))
        return pos.line + 1 + line_in, indent + col_in + 1
    if line_in == 0 and first not in (">",):
        return pos.line, pos.col + col_in + (1 if first in ("'", '"') else 0)
    return pos.line, pos.col


def _schema_diagnostics(doc: RawDoc) -> list[Diagnostic]:
    if _fast_validator().is_valid(doc.data):
        return []
    out = []
    for err in sorted(_validator().iter_errors(doc.data), key=lambda e: list(e.absolute_path)):
        path = tuple(err.absolute_path)
        p = doc.pos(path, key=bool(path))
        where = "/".join(str(x) for x in path) or "document"
        message = err.message
        if err.validator == "oneOf":  # the only oneOf: message vs messageExpression
            message = "set exactly one of message and messageExpression"
        out.append(Diagnostic("M401", f"policy rule invalid at {where}: {message}",
                              doc.file, p.line, p.col))
    return out


def environment(variables: Mapping[str, cel.Type], bindings: bool = False) -> cel.Env:
    """A CEL environment declaring `variables`, with the extensions Kubernetes also has (and
    `cel.bind`, with `bindings`). Rules share a few sets of declarations: each environment is
    made once (~0.3 ms)."""
    key = (tuple(sorted((name, str(t)) for name, t in variables.items())), bindings)
    env = _ENVS.get(key)
    if env is None:
        extensions = [ext_strings.ExtStrings(STRINGS_VERSION), ext_optional.ExtOptional()]
        env = _ENVS[key] = cel.NewEnv(variables=dict(variables), extensions=[
            *extensions, *((ext_bindings.ExtBindings(),) if bindings else ())])
    return env


_ENVS: dict[tuple[tuple[tuple[str, str], ...], bool], cel.Env] = {}

# What a variable may compute that the hand-off from one program to the next would not keep:
# optionals, timestamps, durations, types, uints, bytes, protobuf messages (named as literals,
# functions or type names, `.name` at the root included) and map literals other than `{}`
# (keys 1 and true are one key in Python). A variable naming none of these holds values read from JSON and
# built from them by the standard functions, which pass unchanged.
_NOT_JSON = re.compile(
    r"\.\s*\?|[\[,]\s*\?|\{(?!\s*\})"  # .?field, [?index], [?element], a map literal but {}
    r"|(?<![\w\])}]\.)(?<!\w)(?:optional|timestamp|duration|type|uint|bytes|google)\b"
    r"|(?<![\w\])}]\.)(?<!\w)(?:int|double|bool|string|list|map|null_type|dyn)\b(?!\s*\()"
    r"|\b(?:0[xX][0-9a-fA-F]+|\d+)[uU]\b|(?<!\w)(?:[bB][rR]?|[rR][bB])['\"]")  # literals


def bound(expression: str, variables: Sequence[tuple[str, str]]) -> str | None:
    """`expression` with `variables` bound in place by `cel.bind`, one program as Kubernetes
    evaluates a rule; None when a variable may hold a value that is not JSON (`_NOT_JSON`),
    which this binding cannot hand from one program to the next (the rule's own path then
    reports it). Each part ends its line: a `//` comment must not swallow a parenthesis."""
    if any(_NOT_JSON.search(src) for _, src in variables):
        return None
    out = f"({expression}\n)"
    for i in reversed(range(len(variables))):
        name, src = variables[i]
        entries = [*(f'"{n}": variables.{n}' for n, _ in variables[:i]), f'"{name}": dyn({src}\n)']
        out = f"cel.bind(variables, {{{', '.join(entries)}}}, {out})"
    return out


def _bound_source(expression: str, variables: Sequence[tuple[str, str]]) -> str | None:
    """A rule's bound program's text, when it has one (it has variables, all JSON)."""
    return bound(expression, variables) if variables else None


def _type_name(t: cel.Type) -> str:
    return str(t).lower()


def _compile_error(text: str) -> tuple[str, int, int] | None:
    """(message, line, column) of the library's first error; None when it has no position."""
    m = _CEL_POS.search(text)
    if m is None or int(m.group(1)) < 1:
        return None
    return _NOISE.sub("", m.group(3)), int(m.group(1)), int(m.group(2))


# How a rule's expressions become checked programs: compiled from their text, or (a rule file
# known to compile cleanly) deserialized from what an earlier compile of it checked.
Make = Callable[[cel.Env, str], cel.Expression]


def _compiled(env: cel.Env, src: str) -> cel.Expression:
    return env.compile(src)


def _deserialized(blobs: Iterator[bytes], env: cel.Env, src: str) -> cel.Expression:
    return env.deserialize(next(blobs))


def _compile_rule(doc: RawDoc, lines: list[str], make: Make = _compiled
                  ) -> tuple[Rule | None, list[Diagnostic]]:
    spec = doc.data["spec"]
    rid = doc.data["metadata"]["name"]
    kinds = tuple(spec["match"]["kinds"])
    pos = doc.pos(("metadata", "name"))

    def err(message: str, path: tuple[str | int, ...] = ("metadata", "name"),
            src: str = "", offset: int = 0, hint: str = "") -> list[Diagnostic]:
        line, col = _locate(lines, doc, path, src, offset) if src else (
            doc.pos(path).line, doc.pos(path).col)
        return [Diagnostic("M401", f"policy rule '{rid}': {message}", doc.file, line, col,
                           hint=hint)]

    source = [k for k in kinds if k in SOURCE_KINDS]
    if source and len(source) != len(kinds):
        return None, err("match.kinds mixes source kinds (Agent, Flow, Workspace) with "
                         "Kubernetes kinds; write two rules", ("spec", "match", "kinds"))
    phase = "source" if source else "rendered"
    enforce = bool(spec.get("enforce", False))
    declared = dict(_SOURCE_VARS if phase == "source" else _RENDERED_VARS)
    if enforce:
        unknown = [k for k in kinds if k not in KUBE_RESOURCES]
        if phase == "source" or unknown:
            return None, err(
                "enforce: true needs Kubernetes kinds an admission policy can match "
                f"(known: {', '.join(sorted(KUBE_RESOURCES))})", ("spec", "enforce"))
        declared = dict(_ADMISSION_VARS)

    def compile_(env: cel.Env, path: tuple[str | int, ...], src: str
                 ) -> tuple[cel.Expression | None, list[Diagnostic]]:
        try:
            return make(env, src), []
        except Exception as e:  # RuntimeError with the checker's report; never crash on a rule
            text = str(e)
        hint = f"in scope: {', '.join(sorted(declared))}; {_HINT_FUNCTIONS}"
        found = _compile_error(text)
        if found is None:  # nesting or size limits of the parser: no position
            first = _NOISE.sub("", text.splitlines()[0]) if text else "unknown error"
            return None, err(f"CEL does not compile: {first}", path, hint=hint)
        message, line, col = found
        return None, err(f"CEL does not compile: {message}", path, src,
                         _offset(src, line, col), hint)

    base = dict(declared)
    variables: list[tuple[str, str]] = []
    var_programs: list[tuple[str, cel.Expression]] = []
    for i, var in enumerate(spec.get("variables", [])):
        path: tuple[str | int, ...] = ("spec", "variables", i, "expression")
        name = var["name"]
        if f"variables.{name}" in declared:
            return None, err(f"variable '{name}' is declared twice", ("spec", "variables", i,
                                                                     "name"))
        program, diags = compile_(environment(declared), path, var["expression"])
        if program is None:
            return None, diags
        vtype = program.return_type()
        if _UNPASSABLE.search(_type_name(vtype)):
            return None, err(
                f"variable '{name}' is of type {_type_name(vtype)}, which cel-expr-python cannot "
                "hand from one expression to the next", path, var["expression"], 0,
                hint="unwrap it inside the variable, e.g. `object.?spec.?x.orValue('')`")
        declared[f"variables.{name}"] = vtype
        variables.append((name, var["expression"]))
        var_programs.append((name, program))

    env = environment(declared)
    checked: dict[str, cel.Expression] = {}
    for key, want in (("expression", cel.Type.BOOL), ("messageExpression", cel.Type.STRING)):
        if key not in spec:
            continue
        program, diags = compile_(env, ("spec", key), spec[key])
        if program is None:
            return None, diags
        got = program.return_type()
        if got != want:  # exact, as Kubernetes: dyn is refused too
            return None, err(
                f"{key} returns {_type_name(got)}, not {_type_name(want)}", ("spec", key),
                spec[key], 0, hint=f"Kubernetes needs {_type_name(want)}; compare or convert "
                "explicitly, e.g. `object.spec.flag == true` or `string(x)`")
        checked[key] = program
    # only a pass is read from it; anything else is evaluated variable by variable
    bound_src = _bound_source(spec["expression"], variables)
    bound_program = None
    if bound_src is not None:
        try:
            bound_program = make(environment(base, bindings=True), bound_src)
        except Exception:  # the parser's size limits; deserializing, a program that does not fit
            if make is not _compiled:
                return None, err("its bound program is not what was checked")  # compiled again

    labels = tuple(sorted(spec["match"].get("labels", {}).items()))
    return Rule(
        id=rid, description=spec["description"], severity=spec["severity"], kinds=kinds,
        labels=labels, phase=phase, expression=spec["expression"], message=spec.get("message"),
        message_expression=spec.get("messageExpression"), variables=tuple(variables),
        enforce=enforce, file=doc.file, line=pos.line, col=pos.col, env=env,
        program=checked["expression"], message_program=checked.get("messageExpression"),
        variable_programs=tuple(var_programs), bound_program=bound_program,
        field_path=parse_field_path(spec.get("fieldPath", "")),
        field_path_text=spec.get("fieldPath", "").lstrip("."),
    ), []


_SEGMENT = re.compile(r"\.?([A-Za-z_$][A-Za-z0-9_$-]*)|\[([0-9]+)\]|\['([^']+)'\]")


def parse_field_path(text: str) -> tuple[str | int, ...]:
    """`spec.env[0]`, `metadata.labels['app.kubernetes.io/name']` -> a document path (the
    schema's pattern has already checked the syntax)."""
    out: list[str | int] = []
    for m in _SEGMENT.finditer(text):
        name, index, quoted = m.groups()
        out.append(int(index) if index is not None else (name if name is not None else quoted))
    return tuple(out)


def _offset(src: str, line: int, col: int) -> int:
    lines = src.split("\n")
    line = max(1, min(line, len(lines)))
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(0, col - 1)


@functools.lru_cache(maxsize=512)
def parse_rule_file(
    display: str, content: bytes, checked: tuple[bytes, ...] | None = None
) -> tuple[tuple[Rule, ...], tuple[Diagnostic, ...]]:
    """Rules of one file, each validated and compiled. Pure and cached on (name, bytes).
    `checked`: the file's programs as `serialized` gave them after a clean compile of these
    very bytes; they are deserialized instead of compiled (anything amiss: compiled)."""
    docs, diags = parse_yaml(display, content)
    out_diags = [
        Diagnostic("M401", f"policy rule file unreadable: {d.message}", d.file, d.line, d.col,
                   hint=d.hint)
        for d in diags
    ]
    lines = content.decode("utf-8", errors="replace").splitlines()
    blobs: Iterator[bytes] | None = None
    make: Make = _compiled
    if checked is not None:
        blobs = iter(checked)
        make = functools.partial(_deserialized, blobs)
    rules: list[Rule] = []
    for doc in docs:
        schema = _schema_diagnostics(doc)
        if schema:
            out_diags += schema
            continue
        rule, d = _compile_rule(doc, lines, make)
        out_diags += d
        if rule:
            rules.append(rule)
    if blobs is not None and (out_diags or next(blobs, None) is not None):
        return parse_rule_file(display, content)  # not what was checked: compile it
    return tuple(rules), tuple(out_diags)


def serialized(rules: Iterable[Rule]) -> tuple[bytes, ...]:
    """The checked programs of `rules`, in the order `_compile_rule` makes them."""
    out = []
    for r in rules:
        out += [p.serialize() for p in (
            *(program for _, program in r.variable_programs), r.program,
            *((r.message_program,) if r.message_program is not None else ()))]
        if _bound_source(r.expression, r.variables) is not None:
            # b"" (it did not compile) fails to deserialize: the file is compiled again
            out.append(r.bound_program.serialize() if r.bound_program is not None else b"")
    return tuple(out)


T = TypeVar("T")


class Memo(Protocol):
    """Values kept between compiles (the incremental cache's `UnitMemo.memo`)."""

    def memo(self, parts: tuple[str, ...], build: Callable[[], tuple[T, list[Diagnostic]]],
             dump: Callable[[T], Any], load: Callable[[Any], T]
             ) -> tuple[T, list[Diagnostic]]: ...


def _rule_file(display: str, content: bytes, memo: Memo | None
               ) -> tuple[tuple[Rule, ...], tuple[Diagnostic, ...]]:
    """`parse_rule_file`, with a clean file's checked programs kept in `memo`: deserializing
    the default set's 39 programs takes ~1 ms, compiling them ~9 ms of every compile."""
    if memo is None:
        return parse_rule_file(display, content)
    fresh: list[tuple[tuple[Rule, ...], tuple[Diagnostic, ...]]] = []

    def build() -> tuple[tuple[bytes, ...] | None, list[Diagnostic]]:
        fresh.append(parse_rule_file(display, content))
        rules, diags = fresh[0]
        return (None if diags else serialized(rules)), []

    parts = ("policy-rules", display, hashlib.sha256(content).hexdigest())
    checked, _ = memo.memo(parts, build, lambda c: c, _checked_in)
    return fresh[0] if fresh else parse_rule_file(display, content, checked)


def _checked_in(value: Any) -> tuple[bytes, ...] | None:
    if value is not None and not (type(value) is tuple
                                  and all(type(b) is bytes for b in value)):
        raise TypeError("bad policy-rules entry")
    return value


def load_dir(base: Path, prefix: str, memo: Memo | None = None
             ) -> tuple[list[Rule], list[Diagnostic]]:
    """Every rule under `base`; files are named `prefix` + their path below `base`. A
    directory without rules is an error: a policy gate with nothing in it must not pass.
    `memo`: see `_rule_file`."""
    rules: list[Rule] = []
    diags: list[Diagnostic] = []
    for p in rule_files(base):
        display = prefix + p.relative_to(base).as_posix()
        try:
            content = p.read_bytes()
        except OSError as e:
            diags.append(Diagnostic("M401", f"cannot read rule file: {e.strerror}", display))
            continue
        r, d = _rule_file(display, content, memo)
        rules += r
        diags += d
    if not rules and not diags:
        where = prefix.rstrip("/") or str(base)
        diags.append(Diagnostic("M401", f"no policy rules in {where}: a policy set without rules "
                                "checks nothing", prefix or str(base),
                                hint="add PolicyRule documents (*.yaml); for the default set, "
                                "reinstall mentatlab or point MENTAT_HOME at a directory whose "
                                "policies/ holds it"))
    return rules, diags


def load_rules(root: Path | None, policies: Iterable[str] = (), ws_file: str = "mentat.yaml",
               ws_doc: RawDoc | None = None, *, defaults: Path | None = None,
               memo: Memo | None = None) -> RuleSet:
    """The default set plus the workspace's `spec.policies` directories (inside it only).
    `memo`: see `_rule_file`."""
    base = defaults if defaults is not None else resources.policies_dir()
    if base.is_dir():
        rules, diags = load_dir(base, DEFAULT_PREFIX, memo)
    else:  # never fail open: without its default set a compile would check nothing
        rules, diags = [], [Diagnostic(
            "M401", f"the default policy set is missing ({base})", ws_file,
            hint="reinstall mentatlab (its wheel carries the policies) or point "
                 "MENTAT_HOME at a directory holding schemas/ and policies/")]
    files: dict[str, str] = {}
    for i, rel in enumerate(policies):
        where = ws_doc.pos(("spec", "policies", i)) if ws_doc else None
        line, col = (where.line, where.col) if where else (0, 0)
        target = resolve_inside(root, rel) if root is not None else None
        if target is None:
            diags.append(Diagnostic("M107", f"policy directory '{rel}' is outside the workspace",
                                    ws_file, line, col))
            continue
        if not target.is_dir():
            diags.append(Diagnostic("M401", f"policy directory '{rel}' does not exist",
                                    ws_file, line, col))
            continue
        assert root is not None
        root_r = root.resolve()
        found = 0
        for p in rule_files(target):
            rel_file = p.relative_to(root_r).as_posix()
            content, err = read_source(root_r, rel_file)  # refuses symlinks that leave
            if err or content is None:
                diags += [err] if err else []
                found += 1  # reported already: "no rules" would be a follow-on error
                continue
            files[rel_file] = hashlib.sha256(content).hexdigest()
            r, d = _rule_file(rel_file, content, memo)
            found += len(r) + len(d)
            rules += r
            diags += d
        if not found:
            diags.append(Diagnostic("M401", f"policy directory '{rel}' holds no policy rules",
                                    ws_file, line, col, hint="add PolicyRule documents (*.yaml) "
                                    "or remove it from spec.policies"))
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in seen:
            first = seen[rule.id]
            diags.append(Diagnostic(
                "M401", f"policy rule '{rule.id}' is defined twice (first in "
                f"{first.file}:{first.line})", rule.file, rule.line, rule.col))
            continue
        seen[rule.id] = rule
    return RuleSet(tuple(sorted(seen.values(), key=lambda r: r.id)), tuple(diags), files)
