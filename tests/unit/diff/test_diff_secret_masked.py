"""A changed Secret reference: the diff says that it changed and shows neither the old nor
the new secret name or key, in any output format."""

from __future__ import annotations

from pathlib import Path

from tests.unit.diff.diffkit import GitWorkspace

SECRET = """\
  secrets: [{name: API_KEY, secretRef: {name: OLD_NAME, key: OLD_KEY}}]
"""


def test_secret_reference_change_is_masked(tmp_path: Path) -> None:
    ws = GitWorkspace(tmp_path)
    old = SECRET.replace("OLD_NAME", "llm-keys-2024").replace("OLD_KEY", "api-token")
    ws.replace("flows/agents.yaml", "  resources: {cpu: 500m, memory: 256Mi}\n",
               "  resources: {cpu: 500m, memory: 256Mi}\n" + old)
    base = ws.commit("summarizer reads a key")
    ws.replace("flows/agents.yaml", "llm-keys-2024", "llm-keys-2025")
    ws.replace("flows/agents.yaml", "api-token", "api-token-v2")
    ws.commit("rotate")
    outputs = [ws.run("--base", base, "-o", fmt) for fmt in ("text", "json", "markdown")]
    for out in outputs:
        assert out.exit_code == 0, out.output
        for secret in ("llm-keys-2024", "llm-keys-2025", "api-token"):
            assert secret not in out.output
    doc = ws.json(base)
    diff = next(o["diff"] for o in doc["objects"] if o["name"] == "digest-sum"
                and o["kind"] == "Deployment" and o["target"] == "prod/us-east-1")
    assert "-              name: '***'\n" in diff and "+              name: '*** (changed)'\n" in diff
    assert "-              key: '***'\n" in diff and "+              key: '*** (changed)'\n" in diff
