"""`mentatctl schema export`: self-contained schemas an editor can check files with."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from click.testing import CliRunner

from compiler.cli import main
from tests.unit.convert.test_mixed_workspace import OLD_FLOW

REPO = Path(__file__).resolve().parents[3]


def test_exports_each_kind_and_version(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["schema", "export", str(tmp_path / "s"), "-o", "json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["files"] == [
        "workspace.json", "agent.json", "flow.json", "v1alpha1/agent.json",
        "v1alpha1/flow.json"]
    for path in (tmp_path / "s").rglob("*.json"):
        assert "common.json" not in path.read_text()  # no resolver needed


def test_exported_schemas_accept_the_examples_and_refuse_typos(tmp_path: Path) -> None:
    CliRunner().invoke(main, ["schema", "export", str(tmp_path)])
    schemas = {k: json.loads((tmp_path / f"{k.lower()}.json").read_text())
               for k in ("Workspace", "Agent", "Flow")}
    files = [REPO / "mentat.yaml", *sorted((REPO / "flows").rglob("*.yaml"))]
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            jsonschema.validate(doc, schemas[doc["kind"]])
    doc = yaml.safe_load((REPO / "flows/flows/news-digest.yaml").read_text())
    doc["spec"]["nodez"] = doc["spec"].pop("nodes")
    assert not jsonschema.Draft202012Validator(schemas["Flow"]).is_valid(doc)
    old = json.loads((tmp_path / "v1alpha1/flow.json").read_text())
    jsonschema.validate(yaml.safe_load(OLD_FLOW), old)


def test_help_documents_the_modeline() -> None:
    r = CliRunner().invoke(main, ["schema", "export", "--help"])
    assert r.exit_code == 0 and "yaml-language-server: $schema=" in r.stdout
    assert "Example" in r.stdout
