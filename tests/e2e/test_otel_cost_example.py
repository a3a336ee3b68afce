"""The example workspace end to end: collector objects, cost.json and `mentatctl cost`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from compiler.check.otel import check_collector_config
from compiler.cli import main
from compiler.pipeline import compile_workspace

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def example():
    result = compile_workspace(ROOT)
    assert result.ok, [d.message for d in result.diagnostics]
    return result


def _copy(tmp_path: Path, edit) -> Path:
    shutil.copytree(ROOT / "flows", tmp_path / "flows")
    doc = yaml.safe_load((ROOT / "mentat.yaml").read_text())
    edit(doc["spec"])
    (tmp_path / "mentat.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp_path


def test_every_leaf_has_a_checked_collector(example):
    leaves = {p.rsplit("/", 1)[0] for p in example.files
              if p.count("/") == 2 and p.split("/")[0] in ("staging", "prod")}
    assert leaves
    for leaf in leaves:
        for kind in ("configmap", "deployment", "service", "serviceaccount", "role",
                     "rolebinding", "networkpolicy"):
            assert f"{leaf}/{kind}-mentat-otel-collector.yaml" in example.files
        cm = yaml.safe_load(example.files[f"{leaf}/configmap-mentat-otel-collector.yaml"])
        config = yaml.safe_load(cm["data"]["config.yaml"])
        assert check_collector_config(config) == []
        env, region = leaf.split("/")
        attrs = {a["key"]: a["value"] for a in config["processors"]["resource"]["attributes"]}
        assert attrs["deployment.environment"] == env and attrs["cloud.region"] == region
        kust = yaml.safe_load(example.files[f"{leaf}/kustomization.yaml"])
        assert "deployment-mentat-otel-collector.yaml" in kust["resources"]


def test_agents_reach_the_collector_that_is_rendered(example):
    for path, content in example.files.items():
        if "/deployment-" not in path or "mentat-otel-collector" in path or "mentat-controller" in path:
            continue  # the collector and the controller (spec.controller) are not flow nodes
        dep = yaml.safe_load(content)
        if "runtimeClassName" in dep["spec"]["template"]["spec"]:
            continue  # wasm modules get only the environment their capabilities grant
        (c, *_) = dep["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in c["env"]}
        ns = dep["metadata"]["namespace"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://mentat-otel-collector.{ns}.svc:4317"
        leaf = path.rsplit("/", 1)[0]
        svc = yaml.safe_load(example.files[f"{leaf}/service-mentat-otel-collector.yaml"])
        assert svc["metadata"]["namespace"] == ns and 4317 in [p["port"] for p in
                                                                svc["spec"]["ports"]]


def test_cost_json_is_rendered_and_sums_up(example):
    doc = json.loads(example.files["cost.json"])
    assert example.files["cost.json"] == (ROOT / "rendered" / "cost.json").read_bytes()
    totals = doc["totals"]
    # totals are summed exactly and rounded once, so allow the rounding of each part
    assert abs(sum(totals["environments"].values()) - totals["total"]) < 1e-3
    assert abs(sum(totals["regions"].values()) - totals["total"]) < 1e-3
    assert {(ln["environment"], ln["region"]) for ln in doc["lines"]} == {
        tuple(k.split("/")) for k in totals["environmentRegions"]}
    index = json.loads(example.files["index.json"])
    assert "cost.json" in {f["path"] for f in index["files"]}


def test_rendered_tree_is_up_to_date(example):
    on_disk = {p.relative_to(ROOT / "rendered").as_posix(): p.read_bytes()
               for p in (ROOT / "rendered").rglob("*") if p.is_file()
               and not p.name.endswith(".sigstore.json")}
    assert on_disk == example.files


def test_cost_command_formats():
    runner = CliRunner()
    js = runner.invoke(main, ["cost", str(ROOT), "--format", "json"])
    assert js.exit_code == 0, js.output
    assert js.output.encode() == (ROOT / "rendered" / "cost.json").read_bytes()
    md = runner.invoke(main, ["cost", str(ROOT), "--format", "markdown", "--env", "staging"])
    assert md.exit_code == 0
    assert md.output.startswith("### Estimated monthly cost: mentat-demo")
    assert "| prod |" not in md.output and "| staging | eu-west-1 |" in md.output
    table = runner.invoke(main, ["cost", str(ROOT)])
    assert table.exit_code == 0 and "Totals" in table.output and "730 h" in table.output
    bad = runner.invoke(main, ["cost", str(ROOT), "--env", "nope"])
    assert bad.exit_code == 2 and "unknown environment" in bad.output


def test_cost_without_pricing_or_workspace(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["cost", str(tmp_path)]).exit_code == 2
    ws = _copy(tmp_path, lambda spec: spec.pop("pricing"))
    res = runner.invoke(main, ["cost", str(ws)])
    assert res.exit_code == 1 and "no spec.pricing" in res.output and "error[M522]" in res.output
    as_json = runner.invoke(main, ["cost", str(ws), "--format", "json"])
    payload = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and payload["ok"] is False
    assert [d["code"] for d in payload["diagnostics"]] == ["M522"]
    assert "cost.json" not in compile_workspace(ws).files


def test_operator_mode_and_region_overrides(tmp_path):
    def edit(spec):
        prod = next(e for e in spec["environments"] if e["name"] == "prod")
        prod["collector"] = "operator"
        prod["regionOverrides"] = {"us-east-1": {"replicaFactor": 2}}

    ws = _copy(tmp_path, edit)
    result = compile_workspace(ws)
    assert result.ok, [d.message for d in result.diagnostics]
    crs = [p for p in result.files if p.endswith("opentelemetrycollector-mentat-otel.yaml")]
    assert sorted(crs) == sorted(f"prod/{r}/opentelemetrycollector-mentat-otel.yaml"
                                 for r in ("us-east-1", "eu-west-1", "ap-southeast-1"))
    assert "prod/us-east-1/deployment-mentat-otel-collector.yaml" not in result.files
    assert "staging/eu-west-1/deployment-mentat-otel-collector.yaml" in result.files
    cr = yaml.safe_load(result.files[crs[0]])
    assert check_collector_config(cr["spec"]["config"]) == []
    lines = json.loads(result.files["cost.json"])["lines"]
    base = {(ln["flow"], ln["node"]): ln["replicas"] for ln in lines
            if ln["environment"] == "prod" and ln["region"] == "eu-west-1"}
    doubled = {(ln["flow"], ln["node"]): ln["replicas"] for ln in lines
               if ln["environment"] == "prod" and ln["region"] == "us-east-1"}
    assert doubled == {k: 2 * v for k, v in base.items()}
    _assert_rendered_replicas_match_cost(result.files)


def _rendered_replicas(files: dict[str, bytes]) -> dict[tuple[str, str, str, str], int]:
    """(env, region, flow, node) -> replicas of the rendered Deployment / (Cron)Job."""
    out = {}
    for path, content in files.items():
        kind = path.rsplit("/", 1)[-1].split("-", 1)[0]
        platform = "mentat-otel" in path or "mentat-controller" in path  # not flow nodes
        if kind not in ("deployment", "cronjob", "job") or platform:
            continue
        obj = yaml.safe_load(content)
        labels = obj["metadata"]["labels"]
        env, region = path.split("/")[:2]
        spec = obj["spec"]
        if kind == "deployment":
            n = spec["replicas"]
        else:
            job = spec["jobTemplate"]["spec"] if kind == "cronjob" else spec
            n = job["parallelism"]
        out[(env, region, labels["mentatlab.io/flow"], labels["mentatlab.io/node"])] = n
    return out


def _assert_rendered_replicas_match_cost(files: dict[str, bytes]) -> None:
    lines = json.loads(files["cost.json"])["lines"]
    costed = {(ln["environment"], ln["region"], ln["flow"].split("@")[0], ln["node"]):
              ln["replicas"] for ln in lines}
    assert _rendered_replicas(files) == costed


def test_rendered_replicas_match_cost(example):
    _assert_rendered_replicas_match_cost(example.files)


def test_region_override_for_unknown_region_fails_the_compile(tmp_path):
    def edit(spec):
        spec["environments"][0]["regionOverrides"] = {"mars-1": {"replicaFactor": 2}}

    result = compile_workspace(_copy(tmp_path, edit))
    assert not result.ok
    (diag,) = [d for d in result.diagnostics if d.code == "M521"]
    assert diag.file == "mentat.yaml" and diag.line > 0 and "'mars-1'" in diag.message


def test_schema_refuses_malformed_region_overrides(tmp_path):
    def edit(spec):
        spec["environments"][0]["regionOverrides"] = {"eu-west-1": {"replicaFactr": 2}}

    result = compile_workspace(_copy(tmp_path, edit))
    assert not result.ok
    assert any(d.code == "M202" and "replicaFactr" in d.message for d in result.diagnostics)


def test_schema_requires_a_digest_for_the_collector_image(tmp_path):
    def edit(spec):
        spec["telemetry"]["collectorImage"] = "otel/opentelemetry-collector-contrib:latest"

    result = compile_workspace(_copy(tmp_path, edit))
    assert not result.ok
    assert any(d.code == "M201" and d.file == "mentat.yaml" for d in result.diagnostics)
