"""`mentatctl policy test|list`: tables, JSON, exit codes; waivers in `compile`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from compiler import resources
from compiler.cli import main
from tests.conftest import FLOW, WORKSPACE


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_policy_test_on_the_default_set() -> None:
    code, out, err = run("policy", "test")
    assert code == 0 and "FAIL" not in out and "image-pinned-by-digest" in out
    assert " 0 failed" in err
    code, out, _ = run("policy", "test", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and payload["ok"] and len(payload["results"]) >= 24
    assert {r["expect"] for r in payload["results"]} == {"pass", "fail"}


def test_policy_test_fails_on_a_wrong_fixture_and_a_missing_one(tmp_path: Path) -> None:
    src = resources.policies_dir()
    shutil.copy(src / "flows.yaml", tmp_path / "flows.yaml")
    shutil.copy(src / "tests" / "flow-owner-label.fail.yaml",
                tmp_path / "flow-owner-label.pass.yaml")  # a failing document named "pass"
    code, out, _ = run("policy", "test", str(tmp_path), "--format", "json")
    payload = json.loads(out)
    assert code == 1 and not payload["ok"]
    bad = {(r["expect"], r["ok"]) for r in payload["results"]}
    assert bad == {("pass", False), ("fail", False)}
    details = " ".join(r["detail"] for r in payload["results"])
    assert "violates it" in details and "missing fixture flow-owner-label.fail.yaml" in details
    code, out, _ = run("policy", "test", str(tmp_path))
    assert code == 1 and "FAIL" in out


def test_policy_test_reports_invalid_rule_files(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: mentatlab.io/v1\nkind: PolicyRule\n")
    code, _, err = run("policy", "test", str(tmp_path))
    assert code == 1 and "M401" in err and f"{tmp_path}/bad.yaml" in err


def test_policy_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("policy", "test", str(tmp_path / "nope"))[0] == 2
    assert run("policy", "list", "--format", "xml")[0] == 2


def test_policy_list() -> None:
    code, out, _ = run("policy", "list", "--format", "json")
    rules = json.loads(out)["rules"]
    assert code == 0 and len(rules) >= 12
    by_id = {r["id"]: r for r in rules}
    assert by_id["run-as-non-root"]["enforce"] and by_id["run-as-non-root"]["phase"] == "rendered"
    assert by_id["flow-owner-label"]["file"] == "policies/flows.yaml"
    code, out, _ = run("policy", "list")
    assert code == 0 and "deployment-network-policy" in out


def test_compile_lists_waivers(make_ws: Any) -> None:
    rule = ("apiVersion: mentatlab.io/v1\nkind: PolicyRule\nmetadata: {name: three}\nspec:\n"
            "  description: d\n  severity: error\n  match: {kinds: [Deployment]}\n"
            "  expression: \"object.spec.replicas >= 3\"\n  message: m\n")
    flow = FLOW.replace("labels: {owner: test-team}", "labels: {owner: test-team},\n  "
                        "annotations: {mentatlab.io/waive-three: \"load test pending\"}")
    root = make_ws({"p/r.yaml": rule}, workspace=WORKSPACE + "  policies: [p/]\n", flow=flow)
    code, _, err = run("compile", str(root))
    assert code == 0
    assert "waived three on prod/us-east-1/Deployment/digest-sum (flows/flow.yaml:9): " \
           "load test pending" in err
    code, out, _ = run("compile", str(root), "--check", "--format", "json")
    waivers = json.loads(out)["waivers"]
    assert code == 0 and {w["rule"] for w in waivers} == {"three"}
    assert json.loads((root / "rendered" / "policy-report.json").read_text())["waivers"] == waivers
