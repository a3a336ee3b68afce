"""mask.py on its own: Secret data and every kind of secret reference become `***`, values
that changed `*** (changed)` on the new side only, and an object that mentions no secret
comes back byte for byte."""

from __future__ import annotations

from compiler.diff.mask import CHANGED, MASK, masked_text
from compiler.render.yamlout import dump

SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
          "data": {"user": "YWRtaW4=", "password": "aHVudGVyMg=="},
          "stringData": {"token": "t0ps3cret"}}


def _pod(ref: str, key: str, volume: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "c", "env": [
            {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": ref, "key": key}}}],
            "envFrom": [{"secretRef": {"name": ref}}]}],
        "volumes": [{"name": "v", "secret": {"secretName": volume}}]}}


def test_secret_data_never_shown() -> None:
    text = masked_text(dump(SECRET))
    for value in ("YWRtaW4=", "aHVudGVyMg==", "t0ps3cret"):
        assert value not in text
    assert text.count(MASK) == 3 and "name: creds" in text


def test_changed_values_are_marked_without_their_value() -> None:
    old = dump(SECRET)
    new = dump({**SECRET, "data": {**SECRET["data"], "password": "bmV3"}})
    text = masked_text(new, old)
    assert "password: '*** (changed)'" in text and "user: '***'" in text
    assert "bmV3" not in text and CHANGED not in masked_text(old)


def test_references_are_masked() -> None:
    old, new = dump(_pod("llm", "api", "tls")), dump(_pod("llm-2", "api", "tls"))
    before, after = masked_text(old), masked_text(new, old)
    for secret in ("llm", "llm-2", "tls"):
        assert f": {secret}\n" not in before + after
    assert "API_KEY" in after  # the variable's own name is not a secret
    assert after.count(CHANGED) == 2  # secretKeyRef.name and secretRef.name; key unchanged


def test_objects_without_secrets_are_unchanged() -> None:
    cm = dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"},
               "data": {"a": "b"}})
    assert masked_text(cm) == cm.decode()
