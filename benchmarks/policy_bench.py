"""Benchmark (not a test): CEL libraries on the default policy set, and the policy stage.

    /work/venv/bin/python -m benchmarks.policy_bench          # from the repo root

For `cel-expr-python` (cel-cpp, what the compiler uses) and, when installed, the libraries it
replaced, `common-expression-language` (cel-rust) and `cel-python` (celpy): agreement with
every fixture of the default set, the time to compile all rules, and the time to evaluate every
matching (rule, document) pair of the example workspace (source documents and rendered
objects), each with fresh bindings, as a naive caller would. cel-expr-python runs the rules as
the compiler does (variables as their own programs, in order); the others get the variables
spliced into the expression as text, their only way to share them. Then the policy stage as
the compiler runs it (activations shared per document, a forked evaluator): both phases on the
example workspace, best of five.

Measured on the 2-core machine, under load from other jobs (2026-11-25; 16 rules, 528 pairs,
250 rendered objects; typical of three runs):

    cel-expr-python  fixtures wrong: 0; compile 16 rules   23.3 ms; evaluate 528 pairs    74.8 ms
    cel-rust         fixtures wrong: 0; compile 16 rules    6.0 ms; evaluate 528 pairs   405.1 ms
    cel-python       fixtures wrong: 0; compile 16 rules   20.4 ms; evaluate 528 pairs  4320.6 ms
    policy stage (both phases, 250 rendered objects): 77 ms best of 5

The stage took 233 ms best of 5 with cel-rust (commit 43369c4, run side by side). Compiling is
slower with cel-expr-python (a type-checking environment per variable, ~0.5 ms each) and is
done once per run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cel_expr_python import cel

from compiler import resources
from compiler.load import parse_yaml
from compiler.pipeline import compile_workspace
from compiler.policy import check_rendered, check_sources, load_rules
from compiler.policy.rules import Rule, environment

ROOT = Path(__file__).resolve().parents[1]
Engine = tuple[Callable[[Rule], Any], Callable[[Any, dict[str, Any]], Any]]


def _spliced(rule: Rule) -> str:
    """The expression with `variables.NAME` replaced by the variable's text (default set only:
    no string literal there mentions `variables.`)."""
    done: dict[str, str] = {}

    def splice(src: str) -> str:
        return re.sub(r"\bvariables\.(\w+)", lambda m: f"({done[m.group(1)]})", src)

    for name, expr in rule.variables:
        done[name] = splice(expr)
    return splice(rule.expression)


def _cel_expr_python() -> Engine:
    def compile_(rule: Rule) -> Any:  # what rules.py does: one program per variable
        declared = {"object": cel.Type.DYN, "workspace": cel.Type.DYN,
                    "siblings": cel.Type.List(cel.Type.DYN)}
        env = environment(declared)
        programs = []
        for name, expr in rule.variables:
            program = env.compile(expr)
            programs.append((name, program))
            declared[f"variables.{name}"] = program.return_type()
            env = environment(declared)
        return programs, env.compile(rule.expression)

    def run(compiled: Any, act: dict[str, Any]) -> Any:
        programs, program = compiled
        data = dict(act)
        for name, p in programs:
            data[f"variables.{name}"] = p.eval(data=data).plain_value()
        return program.eval(data=data).value()

    return compile_, run


def _engines() -> dict[str, Engine]:
    engines = {"cel-expr-python": _cel_expr_python()}
    try:
        import cel as cel_rust  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        engines["cel-rust"] = (lambda r: cel_rust.compile(_spliced(r)),
                               lambda p, act: p.execute(act))
    try:
        import celpy  # type: ignore[import-not-found]
    except ImportError:
        return engines
    env = celpy.Environment()

    def run(p: Any, act: dict[str, Any]) -> Any:
        out = p.evaluate({k: celpy.json_to_cel(v) for k, v in act.items()})
        return bool(out) if isinstance(out, celpy.celtypes.BoolType) else out

    engines["cel-python"] = (lambda r: env.program(env.compile(_spliced(r))), run)
    return engines


def _fixture_cases(rule: Rule) -> list[tuple[dict[str, Any], bool]]:
    cases = []
    for expect in ("pass", "fail"):
        path = resources.policies_dir() / "tests" / f"{rule.id}.{expect}.yaml"
        docs, _ = parse_yaml(path.name, path.read_bytes())
        ws = next((d.data["spec"] for d in docs if d.kind == "Workspace"), {})
        others = [d.data for d in docs if d.kind != "Workspace"]
        for d in others:
            ann = (d.get("metadata") or {}).get("annotations") or {}
            if d["kind"] in rule.kinds and not any(k.startswith("mentatlab.io/waive-") for k in ann):
                cases.append(({"object": d, "workspace": ws, "siblings": others},
                              expect == "pass"))
    return cases


def main() -> None:
    rules = load_rules(None).rules
    result = compile_workspace(ROOT, stop_after="render")
    assert result.workspace is not None and result.rendered is not None
    ws = result.workspace
    sources = [ws.spec.doc.data] + [a.doc.data for a in ws.agents] + [
        f.flow.doc.data for f in ws.flows]
    siblings: dict[str, list[dict[str, Any]]] = {}
    for o in result.rendered.objects:
        siblings.setdefault(o.dir, []).append(o.obj)
    pairs = []
    for r in rules:
        if r.phase == "source":
            pairs += [(r, {"object": d, "workspace": ws.spec.spec}) for d in sources
                      if d["kind"] in r.kinds]
        else:
            pairs += [(r, {"object": o.obj, "workspace": ws.spec.spec,
                           "siblings": siblings[o.dir]})
                      for o in result.rendered.objects if o.kind in r.kinds]

    for name, (compile_, run) in _engines().items():
        wrong = sum(run(compile_(r), act) is not want
                    for r in rules for act, want in _fixture_cases(r))
        t = time.perf_counter()
        programs = {r.id: compile_(r) for r in rules}
        compile_ms = (time.perf_counter() - t) * 1000
        reads = {r.id: {k for k in ("object", "workspace", "siblings")
                        if re.search(rf"\b{k}\b", _spliced(r))} for r in rules}
        t = time.perf_counter()
        for r, act in pairs:  # only what the rule reads: converting siblings costs cel-rust
            run(programs[r.id], {k: v for k, v in act.items() if k in reads[r.id]})
        eval_ms = (time.perf_counter() - t) * 1000
        print(f"{name:16s} fixtures wrong: {wrong}; compile {len(rules)} rules "
              f"{compile_ms:6.1f} ms; evaluate {len(pairs)} pairs {eval_ms:7.1f} ms")

    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        check_sources(ws, load_rules(None))
        check_rendered(ws, result.rendered.objects, load_rules(None))
        best = min(best, time.perf_counter() - t)
    print(f"policy stage (both phases, {len(result.rendered.objects)} rendered objects): "
          f"{best * 1000:.0f} ms best of 5")


if __name__ == "__main__":
    main()
