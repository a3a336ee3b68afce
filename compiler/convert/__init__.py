"""Older API versions read as the newest: converters run inside the loader, per document.

A document of an older version that is valid against its own schema is converted to
`mentatlab.io/v1` with its positions carried over (diagnostics on the converted document
point into the file as written) and a deprecation warning (M111) at its apiVersion. An
invalid one is left as written, for `validate` to report against its own schema.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from compiler.convert import v1alpha1
from compiler.diagnostics import Diagnostic, Severity
from compiler.model.raw import RawDoc
from compiler.schema import API_GROUP, API_VERSION, OLD_VERSIONS, bundled_schema

__all__ = ["is_old", "upgrade"]


def is_old(doc: RawDoc) -> bool:
    """An Agent or Flow of a version that a converter reads."""
    group, _, version = doc.api_version.partition("/")
    return group == API_GROUP and doc.kind in OLD_VERSIONS.get(version, ())


@cache
def _validator(kind: str, version: str) -> Any:
    import jsonschema_rs  # only when an older document turns up

    return jsonschema_rs.validator_for(bundled_schema(kind, version))


def upgrade(doc: RawDoc) -> tuple[RawDoc, Diagnostic | None]:
    """`doc` as v1 with a deprecation warning, or unchanged (already v1, another kind, or
    invalid in its own version: validate explains why)."""
    if not is_old(doc):
        return doc, None
    version = doc.api_version.partition("/")[2]
    if not _validator(doc.kind, version).is_valid(doc.data):
        return doc, None
    new = v1alpha1.convert(doc)
    p = doc.pos(("apiVersion",))
    return new, Diagnostic(
        "M111", f"{doc.api_version} is deprecated; this {doc.kind} was read as {API_VERSION}",
        doc.file, p.line, p.col, Severity.WARNING,
        hint="`mentatctl migrate` rewrites the file as v1, keeping its comments")
