"""Hostile and broken sources are refused with a located diagnostic, quickly, never crash."""

from __future__ import annotations

import os
import resource
from pathlib import Path

from compiler.load import MAX_FILE_BYTES, load, parse_yaml


def codes(diags: list) -> list[str]:
    return [d.code for d in diags]


def test_billion_laughs_is_refused_without_expanding() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    docs, diags = parse_yaml("bomb.yaml", "\n".join(lines).encode())
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert codes(diags) == ["M105"] and docs == []
    assert diags[0].line >= 1 and "alias" in diags[0].message
    assert grown_kb < 100_000  # bounded memory: nowhere near 9^9 nodes


def test_recursive_alias_is_refused() -> None:
    _, diags = parse_yaml("r.yaml", b"x: &a [*a]\n")
    assert codes(diags) == ["M105"]


def test_deep_nesting_is_refused() -> None:
    # flow nesting: libyaml itself stops at its depth limit, before any node exists
    _, diags = parse_yaml("deep.yaml", b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    assert codes(diags) == ["M102"] and "nesting depth" in diags[0].message
    _, diags = parse_yaml("deep.yaml", ("a:\n" + "".join(f"{' ' * i}b{i}:\n" for i in range(1, 80))
                                        + " " * 80 + "c: 1\n").encode())
    assert codes(diags) == ["M110"]


def test_python_tags_and_custom_tags_are_refused() -> None:
    for text in (b"x: !!python/object/apply:os.system ['id']\n", b"x: !Ref foo\n",
                 b"x: !!binary aGVsbG8=\n", b"x: !!set {a, b}\n"):
        _, diags = parse_yaml("t.yaml", text)
        assert codes(diags) == ["M104"], text
        assert (diags[0].line, diags[0].col) == (1, 4)


def test_duplicate_keys_name_both_lines() -> None:
    _, diags = parse_yaml("d.yaml", b"a: 1\nb:\n  c: 1\n  c: 2\n")
    assert codes(diags) == ["M103"]
    assert (diags[0].line, diags[0].col) == (4, 3) and "line 3" in diags[0].message


def test_non_utf8_reports_the_offending_line() -> None:
    _, diags = parse_yaml("l1.yaml", b"a: 1\nb: caf\xe9\n")
    assert codes(diags) == ["M101"] and (diags[0].line, diags[0].col) == (2, 7)


def test_huge_file_is_refused_unread(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    big = root / "flows" / "big.yaml"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk, would cost memory if read
    result = load(root)
    diag = [d for d in result.diagnostics if d.file == "flows/big.yaml"]
    assert codes(diag) == ["M106"]


def test_huge_content_is_refused_by_the_parser_too() -> None:
    _, diags = parse_yaml("h.yaml", b"a: " + b"x" * (MAX_FILE_BYTES + 1))
    assert codes(diags) == ["M106"]


def test_symlink_out_of_the_workspace_is_reported_not_read(make_ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    secret = tmp_path / "outside.yaml"
    secret.write_text("apiVersion: mentatlab.io/v1\nkind: Agent\n")
    os.symlink(secret, root / "flows" / "leak.yaml")
    os.symlink(tmp_path, root / "flows" / "up")
    result = load(root)
    escaped = sorted(d.file for d in result.diagnostics if d.code == "M107")
    assert escaped == ["flows/leak.yaml", "flows/up"]
    assert all(not d.file.startswith("flows/up/") for d in result.docs)


def test_source_dir_escaping_the_workspace(make_ws) -> None:  # type: ignore[no-untyped-def]
    for bad in ("../elsewhere/", "/etc/"):
        root = make_ws(workspace=f"""\
apiVersion: mentatlab.io/v1
kind: Workspace
metadata: {{name: t}}
spec:
  sources: [flows/, "{bad}"]
  environments: [{{name: a, namespace: a, regions: [r]}}]
""")
        result = load(root)
        diag = [d for d in result.diagnostics if d.code == "M107"]
        assert len(diag) == 1 and diag[0].file == "mentat.yaml" and diag[0].line == 5


def test_symlink_loop_inside_the_workspace_terminates(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws()
    os.symlink(root / "flows", root / "flows" / "again")
    result = load(root)
    assert not result.diagnostics
    assert sorted({d.file for d in result.docs}) == ["flows/agents.yaml", "flows/flow.yaml"]


def test_every_problem_in_every_file_is_reported(make_ws) -> None:  # type: ignore[no-untyped-def]
    root = make_ws({"flows/a.yaml": "a: [\n", "flows/b.yaml": "x: 1\nx: 2\n",
                    "flows/c.yaml": b"\xff\xfe"})
    result = load(root)
    assert sorted((d.file, d.code) for d in result.diagnostics) == [
        ("flows/a.yaml", "M102"), ("flows/b.yaml", "M103"), ("flows/c.yaml", "M101")]


def test_merge_keys_and_anchors_work_and_keep_positions() -> None:
    docs, diags = parse_yaml("m.yaml", b"base: &b {cpu: 1, memory: 1Gi}\nres:\n  <<: *b\n  cpu: 2\n")
    assert not diags
    assert docs[0].data["res"] == {"cpu": 2, "memory": "1Gi"}
    assert docs[0].pos(("res",)).line == 3 and docs[0].pos(("res", "cpu")).line == 4
