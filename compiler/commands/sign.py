"""`mentatctl pki init|issue`, `mentatctl sign`, `mentatctl verify`: stage 8 on the command line.

Exit codes: 0 ok, 1 problems found (verification failed, signing refused), 2 usage error.
These forms are a contract scripts depend on:
    mentatctl pki init DIR        (writes DIR/root.pem intermediate.pem signing.pem signing.key)
    mentatctl sign RENDERED --pki DIR
    mentatctl verify RENDERED --trust DIR/root.pem
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click

from compiler.diagnostics import Diagnostic, Severity
from compiler.load import WORKSPACE_FILE, find_workspace_root, parse_yaml, resolve_inside
from compiler.output import TEXT_FORMATS, emit, notice, output_option, workspace_option
from compiler.sign.bundle import BUNDLE_NAME
from compiler.sign.pki import (
    DEFAULT_DOMAIN,
    DEFAULT_LEAF_DAYS,
    DEFAULT_ORG,
    DEFAULT_SIGNER,
    PASSPHRASE_ENV,
    ROOT_CERT,
    PkiError,
    init_pki,
    issue_leaf,
    load_pki,
    signer_identity,
)
from compiler.sign.signer import SignResult, inside, sign_pki, write_signature
from compiler.sign.statement import BuildContext, detect_context
from compiler.sign.verify import VerifyResult, load_trust_roots, verify_pki

__all__ = ["pki", "sign", "verify"]

_FORMAT = output_option(github=True)
_PASSPHRASE = click.option(
    "--passphrase-env",
    default=None,
    metavar="NAME",
    help=f"Environment variable holding the key passphrase (default {PASSPHRASE_ENV}; "
    "keys are unencrypted when it is unset).",
)
_EXPIRY_WARNING = dt.timedelta(days=7)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _passphrase(env_name: str | None) -> bytes | None:
    value = os.environ.get(env_name or PASSPHRASE_ENV, "")
    return value.encode() if value else None


def _emit(fmt: str, data: dict[str, Any], text: str, diags: list[Diagnostic]) -> None:
    emit(fmt, data, text=text, diagnostics=diags, ok=data.get("ok"))


def _unencrypted_notice(passphrase_env: str | None, directory: Path) -> str:
    name = passphrase_env or PASSPHRASE_ENV
    return (f"note: the private keys are NOT encrypted ({name} is not set); anyone who can read "
            f"them can sign.\n  to encrypt them: export {name}='a long passphrase' and run "
            f"`mentatctl pki init {_label(directory)} --force` again (or --passphrase-env NAME)")


def _exit(diags: list[Diagnostic]) -> None:
    sys.exit(1 if any(d.severity is Severity.ERROR for d in diags) else 0)


def _workspace_settings(workspace: str = ".") -> tuple[Path | None, dict[str, Any], list[Diagnostic]]:
    """The workspace root, its `spec.output` and `spec.signing` (empty when absent)."""
    root = find_workspace_root(Path(workspace).absolute())
    if root is None:
        return None, {}, []
    try:
        docs, diags = parse_yaml(WORKSPACE_FILE, (root / WORKSPACE_FILE).read_bytes())
    except OSError as exc:
        return root, {}, [Diagnostic("M100", f"cannot read: {exc.strerror}", WORKSPACE_FILE)]
    spec = next((d.data.get("spec") for d in docs if d.kind == "Workspace"), None)
    if diags or not isinstance(spec, dict):
        return root, {}, diags
    signing = spec.get("signing")
    out: dict[str, Any] = dict(signing) if isinstance(signing, dict) else {}
    if isinstance(spec.get("output"), str):
        # as compile does: the output must be a directory inside the workspace
        target = resolve_inside(root, spec["output"].rstrip("/") or ".")
        if target is None or target == root:
            return root, {}, [Diagnostic("M107", f"output '{spec['output']}' must be a "
                                         "directory inside the workspace", WORKSPACE_FILE)]
        out["_output"] = str(target)
    return root, out, []


def _label(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


# --- pki -------------------------------------------------------------------------------------


@click.group("pki")
def pki() -> None:
    """Manage an organisation PKI for offline signing (root → intermediate → signing leaf).

    \b
    Example:
      mentatctl pki init ~/mentat-pki --org Acme --domain acme.example
      mentatctl pki issue ~/mentat-pki --days 30
    """


@pki.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--org", default=DEFAULT_ORG, show_default=True, help="Organisation name.")
@click.option(
    "--domain",
    default=DEFAULT_DOMAIN,
    show_default=True,
    help="Domain the intermediate may issue signer identities for (name constraint).",
)
@click.option("--signer", default=DEFAULT_SIGNER, show_default=True, help="Leaf identity label.")
@click.option("--days", default=DEFAULT_LEAF_DAYS, show_default=True, help="Leaf validity.")
@click.option("--force", is_flag=True, help="Replace an existing PKI in DIRECTORY.")
@_PASSPHRASE
@_FORMAT
def pki_init(
    directory: Path,
    org: str,
    domain: str,
    signer: str,
    days: int,
    force: bool,
    passphrase_env: str | None,
    fmt: str,
) -> None:
    """Create a three-tier ECDSA P-256 hierarchy in DIRECTORY.

    Writes root.pem, intermediate.pem, signing.pem (certificates) and root.key,
    intermediate.key, signing.key (private keys, mode 0600, encrypted when the passphrase
    variable is set). Give root.pem to verifiers; move root.key offline.

    \b
    Example:
      MENTAT_PKI_PASSPHRASE=... mentatctl pki init pki/ --org Acme --domain acme.example
    """
    try:
        written = init_pki(
            directory,
            now=_now(),
            org=org,
            domain=domain,
            signer=signer,
            leaf_days=days,
            passphrase=_passphrase(passphrase_env),
            force=force,
        )
    except (PkiError, OSError) as exc:
        diag = Diagnostic("M806", str(exc), _label(directory))
        _emit(fmt, {"ok": False}, "", [diag])
        _exit([diag])
    files = [p.name for p in written]
    encrypted = _passphrase(passphrase_env) is not None
    _emit(
        fmt,
        {
            "ok": True,
            "directory": str(directory),
            "files": files,
            "signer": f"{signer}@{domain}",
            "encrypted": encrypted,
        },
        f"created PKI in {_label(directory)}: {', '.join(files)}\n"
        f"  signer {signer}@{domain}, leaf valid {days} days; private keys are mode 0600\n"
        f"  give {ROOT_CERT} to verifiers; keep root.key offline",
        [],
    )
    if not encrypted and fmt in TEXT_FORMATS:
        # said on stderr even with -q: an unencrypted root key is a decision, not a detail
        notice(_unencrypted_notice(passphrase_env, directory))


@pki.command("issue")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--days", default=DEFAULT_LEAF_DAYS, show_default=True, help="Leaf validity.")
@click.option("--signer", default=None, help="New identity label (default: keep the current).")
@_PASSPHRASE
@_FORMAT
def pki_issue(directory: Path, days: int, signer: str | None, passphrase_env: str | None, fmt: str) -> None:
    """Renew the signing leaf (new key and certificate) from the intermediate CA.

    \b
    Example:
      mentatctl pki issue pki/ --days 30
    """
    try:
        leaf = issue_leaf(
            directory, now=_now(), days=days, signer=signer, passphrase=_passphrase(passphrase_env)
        )
    except (PkiError, OSError) as exc:
        diag = Diagnostic("M806", str(exc), _label(directory))
        _emit(fmt, {"ok": False}, "", [diag])
        _exit([diag])
    ident, until = signer_identity(leaf), leaf.not_valid_after_utc
    _emit(
        fmt,
        {"ok": True, "signer": ident, "notAfter": until.isoformat()},
        f"issued signing certificate for {ident}, valid until {until:%Y-%m-%d %H:%M} UTC",
        [],
    )


# --- sign ------------------------------------------------------------------------------------


@click.command("sign")
@click.argument("rendered", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--pki",
    "pki_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Sign with the organisation PKI in this directory.",
)
@click.option("--keyless", is_flag=True, help="Sign with Sigstore keyless (ambient OIDC in CI).")
@click.option("--staging", is_flag=True, help="Keyless against Sigstore's staging instance.")
@_PASSPHRASE
@workspace_option(argument=False)
@_FORMAT
def sign(
    workspace: str,
    rendered: Path | None,
    pki_dir: Path | None,
    keyless: bool,
    staging: bool,
    passphrase_env: str | None,
    fmt: str,
) -> None:
    """Sign the output tree RENDERED: writes RENDERED/index.sigstore.json.

    The signer is --pki DIR or --keyless, else the workspace's `spec.signing`
    ({method: pki|keyless, pki: DIR}). Rendered files are never changed; a tree that does
    not match its index.json is refused.

    \b
    Example:
      mentatctl sign rendered --pki ~/mentat-pki
      mentatctl sign rendered --keyless          # in GitHub Actions, id-token: write
    """
    if pki_dir and keyless:
        raise click.UsageError("--pki and --keyless are mutually exclusive")
    ws_root, settings, diags = _workspace_settings(workspace)
    if diags:
        _emit(fmt, {"ok": False}, "", diags)
        _exit(diags)
    if rendered is None:
        rendered = Path(settings.get("_output") or (ws_root or Path.cwd()) / "rendered")
    if not pki_dir and not keyless:
        method = settings.get("method")
        if method == "keyless":
            keyless = True
        elif method == "pki" and isinstance(settings.get("pki"), str) and ws_root is not None:
            pki_dir = ws_root / os.path.expanduser(settings["pki"])
        else:
            raise click.UsageError(
                "no signer: pass --pki DIR or --keyless, or set spec.signing in mentat.yaml"
            )
    passphrase_env = passphrase_env or str(settings.get("passphraseEnv", PASSPHRASE_ENV))
    if not rendered.is_dir():
        raise click.UsageError(f"output directory {_label(rendered)} does not exist")
    label = _label(rendered)
    if not (rendered / "index.json").is_file():
        diag = Diagnostic(
            "M801",
            "not an output tree (no index.json)",
            label,
            hint="compile first: mentatctl compile",
        )
        _emit(fmt, {"ok": False}, "", [diag])
        _exit([diag])
    ctx = detect_context(ws_root or rendered)  # the commit of the sources, not of the output
    if keyless:
        from compiler.sign.keyless import sign_keyless

        result = sign_keyless(
            rendered,
            ctx,
            staging=staging,
            expect_identity=str(settings.get("identity", "")),
            expect_issuer=str(settings.get("issuer", "")),
            label=label,
        )
    else:
        assert pki_dir is not None
        result = _sign_with_pki(rendered, pki_dir, passphrase_env, ctx, label)
    diags = list(result.diagnostics)
    if result.bundle:
        err = write_signature(rendered, result.bundle, label)
        if err:
            diags.append(err)
    ok = bool(result.bundle) and not diags
    if ok and result.not_after and result.not_after - _now() < _EXPIRY_WARNING and not keyless:
        diags.append(
            Diagnostic(
                "M806",
                f"signing certificate expires {result.not_after:%Y-%m-%d}",
                severity=Severity.WARNING,
                hint="renew it with `mentatctl pki issue DIR`",
            )
        )
    bundle_path = f"{label.rstrip('/')}/{BUNDLE_NAME}"
    commit = f", commit {ctx.commit[:12]}" if ctx.commit else ""
    _emit(
        fmt,
        {
            "ok": ok,
            "method": "keyless" if keyless else "pki",
            "bundle": bundle_path,
            "files": result.files,
            "signer": result.signer,
            "commit": ctx.commit,
        },
        f"signed {result.files} files of {label} → {bundle_path} (signer {result.signer}{commit})"
        if ok
        else "",
        diags,
    )
    sys.exit(0 if ok else 1)


def _sign_with_pki(
    rendered: Path, pki_dir: Path, passphrase_env: str | None, ctx: BuildContext, label: str
) -> SignResult:
    if inside(pki_dir, rendered):
        return SignResult(
            diagnostics=[
                Diagnostic(
                    "M806",
                    "the PKI directory is inside the output tree; keys must never live there",
                    _label(pki_dir),
                )
            ]
        )
    try:
        loaded = load_pki(pki_dir, _passphrase(passphrase_env), passphrase_env or PASSPHRASE_ENV)
    except PkiError as exc:
        return SignResult(diagnostics=[Diagnostic("M806", str(exc), _label(pki_dir))])
    return sign_pki(rendered, loaded, ctx, now=_now(), label=label)


# --- verify ----------------------------------------------------------------------------------


@click.command("verify")
@click.argument("rendered", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--trust",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Root CA certificate (PEM) of the organisation PKI.",
)
@click.option("--identity", help="Keyless: expected signer identity (certificate SAN).")
@click.option("--issuer", help="Keyless: expected OIDC issuer URL.")
@click.option("--staging", is_flag=True, help="Keyless: Sigstore's staging trust root.")
@click.option("--offline", is_flag=True, help="Keyless: use the cached trust root, no TUF fetch.")
@workspace_option(argument=False)
@_FORMAT
def verify(
    workspace: str,
    rendered: Path | None,
    trust: Path | None,
    identity: str | None,
    issuer: str | None,
    staging: bool,
    offline: bool,
    fmt: str,
) -> None:
    """Verify RENDERED against its signature: every file, the signature and the signer.

    Trust is always given on the command line, never read from the tree being verified:
    --trust ROOT_CERT for an organisation PKI, or --identity and --issuer for keyless.

    \b
    Example:
      mentatctl verify rendered --trust pki/root.pem
      mentatctl verify rendered \\
        --identity https://github.com/acme/flows/.github/workflows/sign.yml@refs/heads/main \\
        --issuer https://token.actions.githubusercontent.com
    """
    if trust and (identity or issuer):
        raise click.UsageError("--trust and --identity/--issuer are mutually exclusive")
    if not trust and not (identity and issuer):
        raise click.UsageError("pass --trust ROOT_CERT, or both --identity and --issuer")
    if rendered is None:
        ws_root, settings, diags = _workspace_settings(workspace)
        if diags:
            _emit(fmt, {"ok": False}, "", diags)
            _exit(diags)
        rendered = Path(settings.get("_output") or (ws_root or Path.cwd()) / "rendered")
    if not rendered.is_dir():
        raise click.UsageError(f"output directory {_label(rendered)} does not exist")
    label = _label(rendered)
    if trust:
        try:
            roots = load_trust_roots(trust.read_bytes())
        except OSError as exc:
            raise click.UsageError(f"cannot read {trust}: {exc.strerror}") from exc
        result = verify_pki(rendered, roots, label=label)
    else:
        from compiler.sign.keyless import verify_keyless

        assert identity and issuer
        result = verify_keyless(rendered, identity, issuer, staging=staging, offline=offline, label=label)
    _emit(fmt, result.to_dict(), _verify_text(result, label), result.diagnostics)
    _exit(result.diagnostics)


def _verify_text(result: VerifyResult, label: str) -> str:
    if not result.ok:
        return f"verification FAILED for {label}: {len(result.diagnostics)} problem(s)"
    commit = result.commit or "not recorded"
    if result.commit and result.repository:
        commit += f" ({result.repository})"
    if result.dirty:
        commit += " + uncommitted changes at signing time"
    lines = [
        f"verified {label}: {result.files} files match the signed statement",
        f"  signer:    {result.signer} ({result.method}, issued by {result.issuer})",
        f"  commit:    {commit}",
    ]
    if result.workspace:
        version = f", mentatctl {result.compiler_version}" if result.compiler_version else ""
        lines.append(f"  workspace: {result.workspace}{version}")
    return "\n".join(lines)
