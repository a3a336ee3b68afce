"""Sign an output tree: check it against its index, build the statement, sign, write the bundle.

Signing never changes a rendered file. The only file it writes is the bundle at the output
root (`index.sigstore.json`), atomically (temp file + os.replace), and this module is the
only writer of it. A tree whose files do not match its index.json is refused: its signature
could never verify.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from compiler.diagnostics import Diagnostic
from compiler.sign.bundle import BUNDLE_NAME, MAX_BUNDLE_BYTES, dump_bundle, pki_bundle
from compiler.sign.dsse import INTOTO_PAYLOAD_TYPE, sign_envelope
from compiler.sign.pki import Pki, PkiError, signer_identity, write_atomic
from compiler.sign.statement import (
    INDEX_NAME,
    BuildContext,
    Index,
    IndexFormatError,
    build_statement,
    canonical_json,
    parse_index,
)
from compiler.sign.tree import compare, display, hash_tree, read_regular

__all__ = ["Prepared", "SignResult", "inside", "prepare", "sign_pki", "write_signature"]

_MAX_LISTED = 50  # per-file diagnostics shown before summarising the rest
_MAX_INDEX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Prepared:
    index: Index
    statement: bytes  # canonical JSON: the DSSE payload


@dataclass(slots=True)
class SignResult:
    bundle: bytes = b""
    signer: str = ""
    files: int = 0
    not_after: dt.datetime | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def inside(path: Path, directory: Path) -> bool:
    p, d = path.resolve(), directory.resolve()
    return p == d or d in p.parents


def _where(label: str, rel: str) -> str:
    return f"{label.rstrip('/')}/{display(rel)}"


def prepare(rendered: Path, ctx: BuildContext, label: str = "") -> tuple[Prepared | None, list[Diagnostic]]:
    """Read and check the tree; `label` is how diagnostics name the output directory."""
    label = label or str(rendered)
    index_path = rendered / INDEX_NAME
    try:
        raw = read_regular(index_path, _MAX_INDEX_BYTES)
    except OSError as exc:
        return None, [
            Diagnostic(
                "M801",
                f"cannot read {INDEX_NAME}: {exc.strerror or exc}",
                _where(label, INDEX_NAME),
                hint="compile the workspace first (`mentatctl compile`)",
            )
        ]
    try:
        index = parse_index(raw)
    except IndexFormatError as exc:
        return None, [Diagnostic("M801", str(exc), _where(label, INDEX_NAME))]
    problems = compare(hash_tree(rendered), {**index.files, INDEX_NAME: index.sha256}, against_index=True)
    if problems:
        diags = [
            Diagnostic(
                "M805",
                f"refusing to sign: {p.message}",
                _where(label, p.path),
                hint="recompile; the tree must match its index.json",
            )
            for p in problems[:_MAX_LISTED]
        ]
        if len(problems) > _MAX_LISTED:
            diags.append(Diagnostic("M805", f"… and {len(problems) - _MAX_LISTED} more differences", label))
        return None, diags
    return Prepared(index, canonical_json(build_statement(index, ctx))), []


def sign_pki(rendered: Path, pki: Pki, ctx: BuildContext, *, now: dt.datetime, label: str = "") -> SignResult:
    result = SignResult()
    if not (pki.leaf.not_valid_before_utc <= now <= pki.leaf.not_valid_after_utc):
        result.diagnostics.append(
            Diagnostic(
                "M806",
                "signing certificate is not valid now (valid "
                f"{pki.leaf.not_valid_before_utc:%Y-%m-%d} to "
                f"{pki.leaf.not_valid_after_utc:%Y-%m-%d})",
                hint="renew it with `mentatctl pki issue DIR`",
            )
        )
        return result
    if not isinstance(pki.leaf.public_key(), ec.EllipticCurvePublicKey):
        result.diagnostics.append(Diagnostic("M806", "signing certificate does not hold an ECDSA key"))
        return result
    prepared, diags = prepare(rendered, ctx, label)
    if prepared is None:
        result.diagnostics = diags
        return result
    try:
        envelope = sign_envelope(prepared.statement, INTOTO_PAYLOAD_TYPE, pki.key.sign)
    except PkiError as exc:
        result.diagnostics.append(Diagnostic("M806", str(exc)))
        return result
    result.bundle = dump_bundle(pki_bundle(envelope, pki.leaf, [pki.intermediate]))
    result.signer = signer_identity(pki.leaf)
    result.files = len(prepared.index.files)
    result.not_after = pki.leaf.not_valid_after_utc
    return result


def write_signature(rendered: Path, bundle: bytes, label: str = "") -> Diagnostic | None:
    """The one writer of the signature file: never half-written, never anything else, and
    never one that `verify` would refuse to read."""
    target = rendered / BUNDLE_NAME
    if len(bundle) > MAX_BUNDLE_BYTES:
        return Diagnostic("M801", f"the signature bundle would be {len(bundle)} bytes, more "
                          f"than verify reads ({MAX_BUNDLE_BYTES})",
                          _where(label or str(rendered), BUNDLE_NAME),
                          hint="sign fewer files per tree (one output directory per target)")
    try:
        write_atomic(target, bundle, 0o644)
    except OSError as exc:
        return Diagnostic(
            "M701",
            f"cannot write {BUNDLE_NAME}: {exc.strerror}",
            _where(label or str(rendered), BUNDLE_NAME),
        )
    return None
