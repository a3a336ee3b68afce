"""GitHub workflow commands escape as GitHub's toolkit does, and a diagnostic without a file
is an annotation without one (no stray separator)."""

from __future__ import annotations

from compiler.diagnostics import Diagnostic, Severity, render_github


def test_a_diagnostic_without_a_file_has_only_its_title() -> None:
    out = render_github([Diagnostic("M803", "no signature", severity=Severity.ERROR)])
    assert out == "::error title=M803::no signature"


def test_property_values_escape_colons_and_commas_and_the_message_newlines() -> None:
    d = Diagnostic("M201", "bad\nvalue: 50%", "flows/a,b:c.yaml", 3, 5)
    assert render_github([d]) == ("::error file=flows/a%2Cb%3Ac.yaml,line=3,col=5,title=M201::"
                                  "bad%0Avalue: 50%25")
