"""`mentatctl explain`: kinds and fields from the schemas; unknown ones suggest the nearest."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from compiler.cli import main


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["explain", *args])
    return r.exit_code, r.stdout, r.stderr


def test_kind_lists_its_fields() -> None:
    code, out, _ = run("Agent")
    assert code == 0 and out.startswith("KIND:     Agent\nVERSION:  mentatlab.io/v1\n")
    assert "  spec                    <object>  -required-" in out


def test_field_path_through_lists_and_maps() -> None:
    code, out, _ = run("flow.spec.nodes.agent")
    assert code == 0 and "FIELD:    spec.nodes.agent <string>  -required-" in out
    assert "NAME@SEMVER-RANGE" in out and "pattern:" in out
    code, out, _ = run("Flow.spec.overrides.prod.nodes.digest")
    assert code == 0 and "replicas" in out and "resources" in out


def test_enum_and_json_output() -> None:
    code, out, _ = run("Agent.spec.runtime", "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["type"] == "string" and data["required"] is True
    assert data["constraints"] == ['one of: "container", "wasm"']
    assert run("Agent.spec.runtime", "--format", "json")[1] == out  # the alias


def test_older_version() -> None:
    code, out, _ = run("Agent.spec.pins", "--api-version", "v1alpha1")
    assert code == 0 and "VERSION:  mentatlab.io/v1alpha1" in out
    assert "inputs                  <map[string]string>" in out


@pytest.mark.parametrize(("target", "message"), [
    ("Agent.spec.runtme", "Agent.spec has no field 'runtme'; did you mean 'runtime'?"),
    ("Flow.spec.nodes.agnt", "Flow.spec.nodes has no field 'agnt'; did you mean 'agent'?"),
    ("Agnt", "unknown kind 'Agnt' in mentatlab.io/v1; did you mean 'Agent'?"),
    ("Agent.spec.runtime.x", "Agent.spec.runtime has no fields"),
])
def test_unknown_is_a_usage_error_with_a_suggestion(target: str, message: str) -> None:
    code, out, err = run(target)
    assert code == 2 and out == "" and message in err


def test_help_has_an_example() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "Example" in out
