"""A rewrite is offered only if, parsed again, it holds exactly what the converter reads
from the original: anything else is M702 and the file is left alone."""

from __future__ import annotations

import pytest

from compiler import migrate
from tests.unit.convert.test_mixed_workspace import OLD_FLOW


def test_a_rewrite_that_changes_the_meaning_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = migrate._rewrite
    monkeypatch.setattr(migrate, "_rewrite",
                        lambda text: real(text).replace(b"replicas: 2", b"replicas: 3"))
    change, diags = migrate.migrate_file("flows/flow.yaml", OLD_FLOW.encode())
    assert change is None
    assert [(d.code, d.file) for d in diags] == [("M702", "flows/flow.yaml")]
    assert "would not mean what the converter reads" in diags[0].message


def test_the_real_rewrite_passes_the_check() -> None:
    change, diags = migrate.migrate_file("flows/flow.yaml", OLD_FLOW.encode())
    assert diags == [] and change is not None and b"replicas: 2" in change.after
