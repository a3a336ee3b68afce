"""build_bundles: one bundle per wasm agent version; diagnostics point at the source line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import wasmtime

from compiler.wasm.stage import build_bundles

OK = '(module (memory (export "memory") 1) (func (export "_start")))'


def module_line(agent: Any) -> tuple[int, int]:
    p = agent.doc.pos(("spec", "module"))
    return p.line, p.col


def test_one_bundle_per_wasm_agent_version(
    make_agent: Any, make_workspace: Any, tmp_path: Path
) -> None:
    a1 = make_agent(OK, name="a", version="1.0.0", module_name="a.wat")
    a2 = make_agent(OK, name="a2", version="2.0.0", module_name="a.wat")
    container = dataclasses.replace(a1, name="c", runtime="container", module=None)
    bundles, diags = build_bundles(make_workspace(tmp_path, (a1, a2, container)))
    assert diags == []
    assert sorted(bundles) == ["a2@2.0.0", "a@1.0.0"]
    assert bundles["a@1.0.0"].path == "bundles/a-1.0.0"
    assert bundles["a@1.0.0"].module_digest == bundles["a2@2.0.0"].module_digest


def test_missing_module_is_m310_at_the_module_line(
    make_agent: Any, make_workspace: Any, tmp_path: Path
) -> None:
    agent = make_agent(OK)
    (tmp_path / "agents/probe.wat").unlink()
    bundles, diags = build_bundles(make_workspace(tmp_path, (agent,)))
    assert bundles == {}
    (d,) = diags
    assert d.code == "M310" and d.file == "agents/probe.yaml"
    assert (d.line, d.col) == module_line(agent)


def test_module_escaping_the_workspace_is_refused(
    make_agent: Any, make_workspace: Any, tmp_path: Path
) -> None:
    agent = dataclasses.replace(make_agent(OK), module="../outside.wat")
    (tmp_path.parent / "outside.wat").write_text(OK)
    bundles, diags = build_bundles(make_workspace(tmp_path, (agent,)))
    assert bundles == {} and [d.code for d in diags] == ["M107"]
    link = tmp_path / "agents/link.wat"
    link.symlink_to(tmp_path.parent / "outside.wat")
    agent = dataclasses.replace(agent, module="agents/link.wat")
    bundles, diags = build_bundles(make_workspace(tmp_path, (agent,)))
    assert bundles == {} and [d.code for d in diags] == ["M107"]


def test_wat_syntax_error_points_into_the_module(
    make_agent: Any, make_workspace: Any, tmp_path: Path
) -> None:
    agent = make_agent('(module\n  (func (export "_start")\n    (i32.nope)))\n')
    _, diags = build_bundles(make_workspace(tmp_path, (agent,)))
    (d,) = diags
    assert (d.code, d.file, d.line) == ("M510", "agents/probe.wat", 3)


def test_forbidden_import_points_at_the_agent(
    make_agent: Any, make_workspace: Any, tmp_path: Path
) -> None:
    agent = make_agent('(module (import "env" "spawn" (func)) (memory (export "memory") 1)'
                       ' (func (export "_start")))')
    bundles, diags = build_bundles(make_workspace(tmp_path, (agent,)))
    assert bundles == {}
    (d,) = diags
    assert d.code == "M511" and "'env.spawn'" in d.message
    assert (d.file, (d.line, d.col)) == ("agents/probe.yaml", module_line(agent))
    assert d.hint


def test_binary_module_and_bad_grant(
    make_agent: Any, make_workspace: Any, tmp_path: Path
) -> None:
    wasm = bytes(wasmtime.wat2wasm(OK))
    good = make_agent(wasm, name="bin", module_name="bin.wasm")
    bad = make_agent(OK, name="grant", capabilities={"files": ["../etc"]})
    bundles, diags = build_bundles(make_workspace(tmp_path, (good, bad)))
    assert list(bundles) == ["bin@1.0.0"]
    (d,) = diags
    assert d.code == "M513" and d.file == "agents/grant.yaml" and d.line > 0


def test_examples_bundle_cleanly(load_agent: Any, make_workspace: Any, repo: Path) -> None:
    agents = tuple(
        load_agent(repo, f"flows/wasm/{n}.yaml") for n in ("greeter", "uppercase", "wordcount")
    )
    bundles, diags = build_bundles(make_workspace(repo, agents))
    assert diags == []
    assert sorted(bundles) == ["greeter@1.0.0", "uppercase@1.0.0", "wordcount@1.0.0"]
