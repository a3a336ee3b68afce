"""No diagnostic, report or rendered file holds a credential, and no diagnostic or report an
env value (issue 15). A secret is planted in every field that can carry one, each check
that could quote it is triggered, and every output format is searched for it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.conftest import REPO

SECRET = "Zk7PlantedSecret"

# Team rules that quote what they see: a failing rule's messageExpression, and runtime
# errors over the values themselves (M402).
QUOTING_RULES = """\
apiVersion: mentatlab.io/v1
kind: PolicyRule
metadata: {name: quote-agent-env}
spec:
  description: quotes an agent's env values in its message
  severity: warning
  match: {kinds: [Agent]}
  expression: "!has(object.spec.env)"
  messageExpression: "'env: ' + object.spec.env.map(e, e.name + '=' + e.value).join(', ')"
---
apiVersion: mentatlab.io/v1
kind: PolicyRule
metadata: {name: convert-agent-env}
spec:
  description: fails at run time on an env value
  severity: warning
  match: {kinds: [Agent]}
  expression: "!has(object.spec.env) || object.spec.env.all(e, int(e.value) > 0)"
  message: env values are numbers
---
apiVersion: mentatlab.io/v1
kind: PolicyRule
metadata: {name: quote-container-env}
spec:
  description: quotes a rendered container's env in its message
  severity: warning
  match: {kinds: [Deployment]}
  expression: "false"
  messageExpression: >-
    'env: ' + object.spec.template.spec.containers.map(c,
    has(c.env) ? c.env.map(e, has(e.value) ? e.value : '').join(',') : '').join(';')
"""

FORMATS = (["--format", "text"], ["--format", "json"], ["--format", "github"])


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(REPO / "flows", root / "flows")
    text = (REPO / "mentat.yaml").read_text().replace(
        "  sources: [flows/]\n", "  sources: [flows/]\n  policies: [team/]\n")
    (root / "mentat.yaml").write_text(text)
    (root / "team").mkdir()
    (root / "team" / "quote.yaml").write_text(QUOTING_RULES)
    return root


def _plant_env(root: Path) -> int:
    """Every env value of every agent becomes (or contains) the secret."""
    planted = 0
    for f in sorted((root / "flows").rglob("*.yaml")):
        text, n = re.subn(r"(\{name: \w+, value: )\"?[^}\"]*\"?\}",
                          lambda m: f'{m[1]}"x-{SECRET}-{m.start()}"}}', f.read_text())
        f.write_text(text)
        planted += n
    return planted


def _outputs(root: Path, *args: str) -> str:
    """What every command and format prints, and every report file it writes."""
    seen = []
    for cmd in (["validate"], ["compile", "--no-cache"], ["compile"], ["compile", "--check"]):
        for fmt in FORMATS:
            if cmd == ["validate"] and fmt[1] == "github":
                continue
            r = CliRunner().invoke(main, [*cmd, str(root), *fmt, *args])
            assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
            seen += [r.stdout, r.stderr]
    return "\n".join(seen)


def test_env_values_never_reach_a_diagnostic_or_a_report(ws: Path) -> None:
    assert _plant_env(ws) >= 10
    printed = _outputs(ws)
    assert "quote-agent-env" in printed and "convert-agent-env" in printed  # they fired
    assert "quote-container-env" in printed
    assert SECRET not in printed
    reports = [p for p in (ws / "rendered").rglob("*.json")]
    assert reports and not [p for p in reports if SECRET in p.read_text()]
    # the env values are where they belong: in the rendered workloads' env
    assert any(SECRET in p.read_text() for p in (ws / "rendered").rglob("*job-*.yaml"))


ENDPOINTS = {
    "scheme in capitals": f"HTTP://minio:{SECRET}@minio.mentat-system:9000",
    "userinfo": f"http://minio:{SECRET}@minio.mentat-system:9000",
    "token as user": f"http://{SECRET}@minio.mentat-system:9000",
    "no scheme": f"minio:{SECRET}@minio.mentat-system:9000",
    "presigned query": f"http://minio.mentat-system:9000/?X-Amz-Signature={SECRET}",
    "fragment": f"http://minio.mentat-system:9000/#token={SECRET}",
    "malformed IPv6 with userinfo": f"http://minio:{SECRET}@[::1:9000",
    "malformed IPv6 with a query": f"http://[::1/?sig={SECRET}",
}


@pytest.mark.parametrize("field", ["storage", "telemetry"])
@pytest.mark.parametrize("case", sorted(ENDPOINTS))
def test_endpoint_credentials_are_never_echoed(ws: Path, field: str, case: str) -> None:
    text = (ws / "mentat.yaml").read_text()
    old = {"storage": "http://minio.mentat-system:9000",
           "telemetry": "http://otel-backend.observability:4317"}[field]
    assert old in text
    (ws / "mentat.yaml").write_text(text.replace(old, ENDPOINTS[case]))
    printed = _outputs(ws)
    assert "error[" in printed or '"ok": false' in printed  # refused, with a diagnostic
    assert "Traceback" not in printed
    assert SECRET not in printed
    assert not (ws / "rendered").exists() or not any(
        SECRET in p.read_text() for p in (ws / "rendered").rglob("*") if p.is_file())


def _leaves(data: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _leaves(v, (*path, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _leaves(v, (*path, i))]
    return [path]


def _planted(text: str, doc: int, path: tuple[object, ...], value: str) -> str:
    import yaml

    docs = list(yaml.safe_load_all(text))
    node = docs[doc]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)


def _every_field() -> list[tuple[str, int, tuple[object, ...]]]:
    import yaml

    from tests.conftest import AGENTS, FLOW, WORKSPACE

    out = []
    for name, text in (("mentat.yaml", WORKSPACE), ("flows/agents.yaml", AGENTS),
                       ("flows/flow.yaml", FLOW)):
        for i, doc in enumerate(yaml.safe_load_all(text)):
            out += [(name, i, p) for p in _leaves(doc)]
    return out


CREDENTIAL = f"https://deploy:{SECRET}@vault.example:8200/v1?token={SECRET}"


@pytest.mark.parametrize(("file", "doc", "path"), _every_field(),
                         ids=lambda v: ".".join(map(str, v)) if isinstance(v, tuple) else str(v))
def test_a_credential_planted_in_any_field_is_never_printed(
        make_ws: object, file: str, doc: int, path: tuple[object, ...]) -> None:
    """Whatever check the planted value trips (a pattern, a type, an unknown reference, a
    policy), the diagnostics and reports never show it."""
    from tests.conftest import AGENTS, FLOW, WORKSPACE

    texts = {"mentat.yaml": WORKSPACE, "flows/agents.yaml": AGENTS, "flows/flow.yaml": FLOW}
    texts[file] = _planted(texts[file], doc, path, CREDENTIAL)
    root = make_ws({"flows/agents.yaml": texts["flows/agents.yaml"],  # type: ignore[operator]
                    "flows/flow.yaml": texts["flows/flow.yaml"]},
                   workspace=texts["mentat.yaml"], agents=None, flow=None)
    printed = []
    for args in (["validate", str(root)], ["validate", str(root), "--format", "json"],
                 ["compile", str(root), "--no-cache", "--format", "github"]):
        r = CliRunner().invoke(main, args)
        assert isinstance(r.exception, SystemExit | type(None)), r.exception
        printed += [r.stdout, r.stderr]
    assert SECRET not in "\n".join(printed)
    reports = list((root / "rendered").glob("*.json")) if (root / "rendered").exists() else []
    assert not [p for p in reports if SECRET in p.read_text()]
