"""`Rendered.extend` appends another renderer's objects, artifacts and diagnostics, in order."""

from __future__ import annotations

from compiler.diagnostics import Diagnostic
from compiler.model import Artifact, K8sObject, Rendered


def _obj(name: str) -> K8sObject:
    return K8sObject("d", {"kind": "ConfigMap", "metadata": {"name": name}}, ("s.yaml",))


def test_extend_appends_every_part_in_order() -> None:
    first = Rendered([_obj("a")], [Artifact("a.json", b"{}", ("s.yaml",))],
                     [Diagnostic("M500", "first", "s.yaml", 1, 1)])
    second = Rendered([_obj("b"), _obj("c")], [Artifact("b.json", b"[]", ())],
                      [Diagnostic("M500", "second", "s.yaml", 2, 1)])
    first.extend(second)
    assert [o.name for o in first.objects] == ["a", "b", "c"]
    assert [a.path for a in first.artifacts] == ["a.json", "b.json"]
    assert [d.message for d in first.diagnostics] == ["first", "second"]
    assert [o.name for o in second.objects] == ["b", "c"]  # the other is left as it was


def test_extend_with_nothing_changes_nothing() -> None:
    out = Rendered([_obj("a")])
    out.extend(Rendered())
    assert [o.name for o in out.objects] == ["a"] and out.artifacts == out.diagnostics == []
