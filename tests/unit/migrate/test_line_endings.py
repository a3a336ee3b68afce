"""migrate keeps a file's CRLF line endings and its byte-order mark."""

from __future__ import annotations

from compiler.load import parse_yaml
from compiler.migrate import migrate_file
from tests.unit.convert.test_mixed_workspace import OLD_AGENT, OLD_FLOW


def test_crlf_stays_crlf() -> None:
    before = OLD_AGENT.replace("\n", "\r\n").encode()
    change, diags = migrate_file("a.yaml", before)
    assert diags == [] and change is not None
    assert change.after.count(b"\r\n") == change.after.count(b"\n")  # no bare \n
    assert b"runtime: container\r\n" in change.after
    second = before.split(b"---\r\n", 1)[1]  # the v1 document: byte for byte
    assert change.after.endswith(second)


def test_bom_is_kept() -> None:
    before = "\ufeff".encode() + OLD_FLOW.encode()
    change, diags = migrate_file("f.yaml", before)
    assert diags == [] and change is not None and change.after.startswith("\ufeff".encode())
    (doc,), none = parse_yaml("f.yaml", change.after)
    assert none == [] and doc.data["spec"]["nodes"][0]["id"] == "fetch"
