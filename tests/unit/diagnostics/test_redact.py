"""Credentials are redacted where every diagnostic is made, so no renderer can print one
(issue 15); prose, names, references and digests are left as they are."""

from __future__ import annotations

import json

import pytest

from compiler.diagnostics import REDACTED, Diagnostic, redact, render_github, render_text

SECRET = "hunter2Zq9"

LEAKY = {
    "url userinfo": f"http://admin:{SECRET}@minio:9000",
    "url userinfo, upper-case scheme": f"HTTP://admin:{SECRET}@minio:9000",
    "url token as user": f"https://{SECRET}@github.com/o/r.git",
    "bare userinfo": f"admin:{SECRET}@minio:9000",
    "query signature": f"https://s3.example/b?X-Amz-Signature={SECRET}&X-Amz-Date=1",
    "second query parameter": f"https://s3.example/b?a=1&X-Amz-Credential={SECRET}",
    "fragment token": f"https://app.example/cb#access_token={SECRET}",
    "password pair": f"password={SECRET}",
    "api key pair": f"db_api_key = {SECRET}",
    "quoted token": f'{{"token": "{SECRET}"}}',
    "bearer": f"Authorization: Bearer {SECRET}abcdef",
    "env value in a dump": f"{{'name': 'API', 'value': '{SECRET}'}}",
    "env value in json": f'{{"name": "API", "value": "{SECRET}"}}',
    "aws key": "AKIAABCDEFGHIJKLMNOP",
    "github token": "ghp_" + "a1" * 18,
    "private key": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
}

BENIGN = [
    "agent summarizer@1.2.0 (node 'digest') has no input pin 'txt'",
    "image ghcr.io/mentatlab/x@sha256:" + "a" * 64 + " is pinned",
    "registry:5000/team/x@sha256:abc",
    "agent reference 'fetcher@^1.0' does not resolve",
    "extra file not covered by the signature: rbac.sigstore.json",
    "run in GitHub Actions with `permissions: id-token: write`",
    "duplicate key 'a' (first defined at line 3)",
    "expected a & b == c",
    "storage endpoint 'http://minio.mentat-system:9000' has no host",
    "flows/x.yaml:3:4 spec.env.0.name: 'bad name' does not match ^[A-Za-z_]",
]


@pytest.mark.parametrize("case", sorted(LEAKY))
def test_each_credential_form_is_redacted(case: str) -> None:
    text = redact(f"endpoint {LEAKY[case]!s} is bad")
    secret = SECRET if SECRET in LEAKY[case] else LEAKY[case].split("\n")[0]
    assert secret not in text and REDACTED in text


@pytest.mark.parametrize("text", BENIGN)
def test_prose_names_and_references_are_untouched(text: str) -> None:
    assert redact(text) == text


def test_what_says_where_the_secret_was_is_kept() -> None:
    assert redact(f"HTTP://u:{SECRET}@minio:9000") == "HTTP://***@minio:9000"
    assert redact(f"s3://b?X-Amz-Signature={SECRET}&X-Amz-Date=1") == (
        "s3://b?X-Amz-Signature=***&X-Amz-Date=***")


def test_known_secret_values_are_redacted_wherever_they_appear() -> None:
    assert redact(f"got {SECRET}!", [SECRET]) == "got ***!"
    assert redact("a b c", ["b"]) == "a b c"  # too short to be told apart from prose


@pytest.mark.parametrize("field", ["message", "hint"])
def test_every_renderer_prints_the_redacted_diagnostic(field: str) -> None:
    planted = f"endpoint HTTP://u:{SECRET}@h password={SECRET}"
    d = Diagnostic("M201", planted if field == "message" else "m", "mentat.yaml", 3, 4,
                   hint=planted if field == "hint" else "")
    for out in (render_text([d]), render_github([d]), json.dumps(d.to_dict())):
        assert SECRET not in out and REDACTED in out


def test_undecodable_names_are_printed_escaped() -> None:
    d = Diagnostic("M101", "bad name flows/x\udcff.yaml", "flows/x\udcff.yaml")
    text = render_text([d])
    text.encode("utf-8")  # printable: no lone surrogate left
    assert "x\\udcff.yaml" in text
