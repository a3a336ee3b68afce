"""Hostile inputs the loader turns into located diagnostics instead of tracebacks, memory
blow-ups or messages at 1:1 (issue 15): numbers no later stage can carry, aliases that
expand to gigabytes, undecodable file names, and a trailing `---`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.load import MAX_ALIAS_BYTES, parse_yaml

HEAD = "apiVersion: mentatlab.io/v1\nkind: Agent\nmetadata: {name: a, version: 1.0.0}\n"


def _codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.col) for d in parse_yaml("a.yaml", text.encode())[1]]


@pytest.mark.parametrize("value", ["99999999999999999999999", "-9223372036854775809",
                                   "0x10000000000000000", ".nan", ".inf", "-.Inf", "1.0e+400",
                                   "1.0e+300", "-9.3e+18"])
def test_numbers_json_and_cel_cannot_carry_are_refused_where_they_stand(value: str) -> None:
    text = HEAD + f"spec:\n  resources: {{cpu: 1, gpu: {value}}}\n"
    assert _codes(text) == [("M112", 5, 28)]


@pytest.mark.parametrize("value", ["9223372036854775807", "-9223372036854775808", "9.2e+18",
                                   "'.nan'", "'99999999999999999999999'"])
def test_numbers_in_range_and_quoted_text_are_kept(value: str) -> None:
    assert _codes(HEAD + f"spec: {{x: {value}}}\n") == []


def test_a_number_beyond_int64_is_one_diagnostic_at_its_line(make_ws: Any) -> None:
    """Not a schema pass followed by six policy failures at 1:1."""
    root = make_ws({"flows/big.yaml": HEAD.replace("name: a", "name: big") + (
        "spec:\n  runtime: container\n  image: ghcr.io/mentatlab/x@sha256:" + "a" * 64 + "\n"
        "  resources: {cpu: 1, memory: 1Mi, gpu: 99999999999999999999999}\n")})
    r = CliRunner().invoke(main, ["validate", str(root)])
    assert r.exit_code == 1
    assert "flows/big.yaml:7:41: error[M112]: integer 99999999999999999999999 is outside" \
        in r.stderr
    assert "M402" not in r.stderr and "M201" not in r.stderr


@pytest.mark.parametrize("text", ["a: 1\n---\n", "a: 1\n---\n---\n", "---\n", "a: 1\n--- \n...\n"])
def test_a_trailing_separator_is_an_empty_document_as_an_empty_file_is(text: str) -> None:
    docs, diags = parse_yaml("a.yaml", text.encode())
    assert diags == [] and [d.data for d in docs] == ([{"a": 1}] if "a: 1" in text else [])


def test_a_document_that_is_a_scalar_is_still_refused() -> None:
    assert _codes("a: 1\n--- 5\n") == [("M109", 2, 5)]


def test_aliases_are_bounded_by_the_bytes_they_expand_to() -> None:
    big = "x" * 1_000_000
    bomb = f"a: &b {big}\nlist: [{', '.join(['*b'] * 3000)}]\n"
    docs, diags = parse_yaml("a.yaml", bomb.encode())
    assert [d.code for d in diags] == ["M105"] and "bytes" in diags[0].message
    # the budget is per file: documents cannot share it out among themselves
    half = f"a: &b {'y' * (MAX_ALIAS_BYTES // 4)}\nl: [*b, *b, *b]\n"
    assert [d.code for d in parse_yaml("a.yaml", (half + "---\n" + half).encode())[1]] == ["M105"]
    # nested aliases are counted once, as they expand
    nested = "a: &a [x, y]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    docs, diags = parse_yaml("a.yaml", nested.encode())
    assert diags == [] and docs[0].data["c"][2][2] == ["x", "y"]


def test_an_alias_bomb_of_big_scalars_compiles_to_a_diagnostic(make_ws: Any) -> None:
    root = make_ws({"flows/bomb.yaml": HEAD + "spec:\n  runtime: container\n"
                    f"  note: &n {'z' * 1_000_000}\n"
                    f"  env: [{', '.join(['{name: A, value: *n}'] * 3000)}]\n"})
    r = CliRunner().invoke(main, ["compile", str(root), "--no-cache"])
    assert (r.exit_code == 1 and "error[M105]" in r.stderr and r.exception is None) \
        or isinstance(r.exception, SystemExit)


@pytest.mark.skipif(sys.platform == "darwin", reason="APFS refuses undecodable names")
def test_an_undecodable_file_name_is_a_diagnostic(make_ws: Any) -> None:
    root = make_ws()
    name = os.fsencode(root / "flows") + b"/agents-\xff.yaml"
    with open(name, "wb") as f:
        f.write((root / "flows" / "agents.yaml").read_bytes())
    for fmt in ("text", "json", "github"):
        r = CliRunner().invoke(main, ["compile", str(root), "--no-cache", "--format", fmt])
        assert (r.exit_code == 1 and r.exception is None) or isinstance(r.exception, SystemExit)
        out = r.stdout + r.stderr
        assert "M101" in out and "agents-\\udcff.yaml" in out.replace("\\\\", "\\")


def test_an_undecodable_name_in_the_output_tree_is_named_not_a_crash(make_ws: Any) -> None:
    root = make_ws()
    assert CliRunner().invoke(main, ["compile", str(root)]).exit_code == 0
    with open(os.fsencode(root / "rendered") + b"/x\xff.yaml", "wb") as f:
        f.write(b"a: 1\n")
    for args in (["--check"], []):
        r = CliRunner().invoke(main, ["compile", str(root), *args])
        assert r.exit_code == 1 and "x\\udcff.yaml" in r.stderr
    assert Path(os.fsdecode(os.fsencode(root / "rendered") + b"/x\xff.yaml")).exists()
