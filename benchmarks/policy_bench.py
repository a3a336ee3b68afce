"""Benchmark (not a test): the two CEL libraries on the default policy set, and the stage.

    /work/venv/bin/python -m benchmarks.policy_bench          # from the repo root

For `common-expression-language` (cel-rust, what the compiler uses) and, when installed,
`cel-python` (celpy): agreement with every fixture of the default set, the time to compile
all rules, and the time to evaluate every matching (rule, document) pair of the example
workspace (source documents and rendered objects), each with a fresh dict of the variables
the rule reads, as a naive caller would. Then the policy stage as the compiler runs it
(shared contexts, a forked evaluator): both phases on the example workspace, best of five.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cel

from compiler import resources
from compiler.load import parse_yaml
from compiler.pipeline import compile_workspace
from compiler.policy import check_rendered, check_sources, load_rules
from compiler.policy.celcheck import inline
from compiler.policy.rules import Rule

ROOT = Path(__file__).resolve().parents[1]


def _source(rule: Rule) -> str:
    done: dict[str, str] = {}
    for name, expr in rule.variables:
        done[name] = inline(expr, done)
    return inline(rule.expression, done)


def _engines() -> dict[str, tuple[Callable[[str], Any], Callable[[Any, dict[str, Any]], Any]]]:
    engines: dict[str, tuple[Callable[[str], Any], Callable[[Any, dict[str, Any]], Any]]] = {
        "cel-rust": (cel.compile, lambda p, act: p.execute(act)),
    }
    try:
        import celpy  # type: ignore[import-not-found]
    except ImportError:
        return engines
    env = celpy.Environment()

    def run(p: Any, act: dict[str, Any]) -> Any:
        out = p.evaluate({k: celpy.json_to_cel(v) for k, v in act.items()})
        return bool(out) if isinstance(out, celpy.celtypes.BoolType) else out

    engines["cel-python"] = (lambda s: env.program(env.compile(s)), run)
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
        wrong = sum(run(compile_(_source(r)), act) is not want
                    for r in rules for act, want in _fixture_cases(r))
        t = time.perf_counter()
        programs = {r.id: compile_(_source(r)) for r in rules}
        compile_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        for r, act in pairs:
            run(programs[r.id], {k: v for k, v in act.items() if k in r.uses})
        eval_ms = (time.perf_counter() - t) * 1000
        print(f"{name:11s} fixtures wrong: {wrong}; compile {len(rules)} rules {compile_ms:6.1f} ms;"
              f" evaluate {len(pairs)} pairs {eval_ms:7.1f} ms")

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
