"""`mentatctl apply`, `mentatctl controller`, `mentatctl audit verify`,
`mentatctl verify-attestation`: stage 9 on the command line.

Exit codes: 0 applied (or planned, with --dry-run); 1 refused or failed (nothing half-done is
hidden: the result says which step stopped and why); 2 wrong usage.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from compiler.load import WORKSPACE_FILE, find_workspace_root, output_dir, parse_yaml
from compiler.output import dump_document, output_option

__all__ = ["apply", "audit", "controller", "verify_attestation"]

_OUTPUT = output_option(help="Print the plan and result as text, JSON or YAML.")


def _workspace(rendered: Path | None) -> tuple[Path | None, dict[str, Any]]:
    """The workspace root (from RENDERED, else the current directory) and its spec."""
    root = find_workspace_root(rendered.parent if rendered is not None else Path.cwd())
    if root is None:
        return None, {}
    try:
        docs, _ = parse_yaml(WORKSPACE_FILE, (root / WORKSPACE_FILE).read_bytes())
    except OSError:
        return root, {}
    spec = next((d.data.get("spec") for d in docs if d.kind == "Workspace"), None)
    return root, spec if isinstance(spec, dict) else {}


def _duration(value: str) -> float:
    """`60s`, `2m`, `1h` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if value and value[-1] in units:
            return float(value[:-1]) * units[value[-1]]
        return float(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a duration like 30s, 2m or 1h") from exc


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


class SignerUnavailable(Exception):
    """The attestation signer asked for cannot sign here (no OIDC token): exit 1, the cluster
    untouched."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def _keyless_signer(staging: bool = False) -> Any:
    """The OIDC token for signing attestations keyless, found and parsed now, before the
    cluster is touched (SignerUnavailable when there is none or it is unusable)."""
    from compiler.controller.attest import KeylessSigner
    from compiler.sign.keyless import identity_token

    token, why = identity_token()
    if token is None:
        assert why is not None
        raise SignerUnavailable(f"{why.message} of the attestation", why.hint or "")
    from sigstore.oidc import IdentityToken

    try:
        IdentityToken(token)
    except Exception as exc:  # sigstore's IdentityError and JWT decoding errors alike
        text = str(exc).strip().splitlines()
        raise SignerUnavailable(f"the OIDC token for keyless signing is unusable: {text[0] if text else exc}",
                                "a token with audience `sigstore` that has not expired") from None
    return KeylessSigner(token, staging)


def build_options(rendered: Path | None, env: str, region: str, trust: Path | None, identity: str | None,
                  issuer: str | None, allow_unsigned: bool, dry_run: bool, force_conflicts: bool,
                  allow_prune: tuple[str, ...], audit_log: Path | None, attestation_out: Path | None,
                  sign_pki: Path | None, passphrase_env: str | None, timeout: str, wait: bool,
                  inventory_namespace: str, lease_wait: str = "20s", sign_keyless: bool = False) -> Any:
    """Options for one reconcile from the command line and the workspace (usage errors: exit 2;
    a keyless attestation signer without a token: SignerUnavailable)."""
    from compiler.controller.budget import BudgetError, parse_allow
    from compiler.controller.reconcile import Options
    from compiler.sign.pki import PASSPHRASE_ENV, PkiError, load_pki
    from compiler.sign.verify import load_trust_roots

    if trust and (identity or issuer):
        raise click.UsageError("--trust and --identity/--issuer are mutually exclusive")
    if sign_keyless and sign_pki:
        raise click.UsageError("--sign-pki and --sign-keyless are mutually exclusive")
    if not trust and not (identity and issuer):
        raise click.UsageError("pass --trust ROOT_CERT, or both --identity and --issuer")
    root, spec = _workspace(rendered)
    if rendered is None:
        out = output_dir(root, spec.get("output")) if root else None
        rendered = out or Path("rendered")
    if not rendered.is_dir():
        raise click.UsageError(f"output directory {rendered} does not exist")
    state = (root or Path.cwd()) / ".mentat"
    roots = None
    if trust:
        try:
            roots = load_trust_roots(trust.read_bytes())
        except OSError as exc:
            raise click.UsageError(f"cannot read {trust}: {exc.strerror}") from exc
        if not roots:
            raise click.UsageError(f"{trust} holds no PEM certificate")
    try:
        budget = parse_allow(allow_prune)
    except BudgetError as exc:
        raise click.UsageError(str(exc)) from exc
    found = spec.get("signing")
    signing: dict[str, Any] = found if isinstance(found, dict) else {}
    signer: Any = None
    if sign_keyless:
        signer = _keyless_signer()
    elif sign_pki is None and signing.get("method") == "pki" and isinstance(signing.get("pki"), str) and root:
        sign_pki = root / os.path.expanduser(signing["pki"])
    if sign_pki is not None:
        env_name = passphrase_env or str(signing.get("passphraseEnv", PASSPHRASE_ENV))
        secret = os.environ.get(env_name, "")
        try:
            signer = load_pki(sign_pki, secret.encode() if secret else None, env_name)
        except PkiError as exc:
            raise click.UsageError(f"--sign-pki: {exc}") from exc
    return Options(
        rendered=rendered, env=env, region=region, trust_roots=roots, identity=identity or "",
        issuer=issuer or "", allow_unsigned=allow_unsigned, dry_run=dry_run,
        force_conflicts=force_conflicts, budget=budget, wait=wait, timeout=_duration(timeout),
        inventory_namespace=inventory_namespace, signer=signer, lease_wait=_duration(lease_wait),
        audit_log=audit_log or state / "audit.jsonl", snapshot_dir=state / "applied",
        attestation_out=attestation_out or state / "attestations" / f"{env}.{region}.{_stamp()}.json",
    )


def _options_or_exit(*args: Any) -> Any:
    """build_options, or exit 1 naming why the attestation signer cannot sign (M807)."""
    try:
        return build_options(*args)
    except SignerUnavailable as exc:
        click.echo(f"error[M807]: {exc}" + (f"\n  hint: {exc.hint}" if exc.hint else ""), err=True)
        click.echo("nothing was applied", err=True)
        sys.exit(1)


def _connector(kubeconfig: Path | None, context: str | None) -> Any:
    def connect() -> Any:
        from compiler.controller.client import connect as open_cluster

        return open_cluster(kubeconfig, context)
    return connect


def _text(outcome: Any) -> str:
    lines = []
    for step in outcome.steps:
        mark = "ok" if step.ok else "FAILED"
        lines.append(f"  {step.name:<7} {mark}" + (f": {step.detail}" if step.detail else ""))
    lines.append(f"{outcome.result}: inventory {outcome.inventory}, {len(outcome.applied)} objects "
                 f"applied or unchanged, {len(outcome.pruned)} pruned" + (f" — {outcome.reason}"
                                                                           if outcome.reason else ""))
    for line in outcome.restored:
        lines.append(f"  drift taken back: {line}")
    for ref, why in outcome.kept:
        lines.append(f"  kept {ref}: {why}")
    for problem in outcome.problems:
        lines.append(f"  problem: {problem}")
    if outcome.source is not None and not outcome.source.verified and outcome.result != "refused":
        lines.append("  warning: the rendered tree was NOT verified (--allow-unsigned)")
    if outcome.attestation is not None:
        kind = ("signed attestation" if outcome.attestation_signed
                else "attestation (UNSIGNED: no signer configured)")
        lines.append(f"  {kind}: {outcome.attestation}")
    if outcome.audit_entry is not None:
        lines.append(f"  audit: entry {outcome.audit_entry['seq']} ({outcome.audit_entry['hash'][:12]}…)")
    return "\n".join(lines)


def run_once(opts: Any, kubeconfig: Path | None, context: str | None, fmt: str) -> Any:
    from compiler.controller.plan import render_plan
    from compiler.controller.reconcile import reconcile

    def on_plan(plan: Any) -> None:
        if fmt == "text":
            click.echo(render_plan(plan))

    outcome = reconcile(opts, _connector(kubeconfig, context), on_plan=on_plan)
    if fmt in ("json", "yaml"):
        click.echo(dump_document(fmt, outcome.to_dict()), nl=False)
    else:
        click.echo(_text(outcome), err=not outcome.ok)
    return outcome


_TRUST = [
    click.option("--trust", type=click.Path(dir_okay=False, path_type=Path),
                 help="Root CA certificate (PEM) the rendered tree's signature must chain to."),
    click.option("--identity", help="Keyless: expected signer identity (certificate SAN)."),
    click.option("--issuer", help="Keyless: expected OIDC issuer URL."),
]
_COMMON = [
    click.option("--env", required=True, help="Environment to apply (a directory of RENDERED)."),
    click.option("--region", required=True, help="Region to apply (RENDERED/ENV/REGION)."),
    *_TRUST,
    click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
                 help="Kubeconfig file (default $KUBECONFIG, then ~/.kube/config)."),
    click.option("--context", help="Kubeconfig context (default: its current context)."),
    click.option("--force-conflicts", is_flag=True,
                 help="Take over fields another server-side applier owns (fields edited live are "
                      "taken back without it)."),
    click.option("--allow-prune", multiple=True, metavar="KIND|N%|all",
                 help="Approve a prune the budget refuses: Namespace, CustomResourceDefinition, "
                      "PersistentVolumeClaim, a larger share (50%), or all. Repeatable, comma-separated."),
    click.option("--allow-unsigned", is_flag=True,
                 help="Apply a tree that is unsigned or fails verification (recorded in the attestation)."),
    click.option("--audit-log", type=click.Path(dir_okay=False, path_type=Path),
                 help="Hash-chained audit log to append to (default .mentat/audit.jsonl)."),
    click.option("--sign-pki", type=click.Path(file_okay=False, path_type=Path),
                 help="Sign the attestation with this PKI (default: the workspace's spec.signing PKI)."),
    click.option("--sign-keyless", is_flag=True,
                 help="Sign the attestation with Sigstore keyless: the ambient OIDC token in CI, or "
                      "$SIGSTORE_ID_TOKEN; refused (exit 1, nothing applied) without a usable token."),
    click.option("--passphrase-env", metavar="NAME", help="Variable holding the PKI key passphrase."),
    click.option("--timeout", default="120s", show_default=True, help="How long to wait for health."),
    click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for health before pruning."),
    click.option("--inventory-namespace", default="mentat-system", show_default=True,
                 help="Namespace of the inventory record and its Lease."),
    click.option("--lease-wait", default="20s", show_default=True,
                 help="How long to wait for another reconcile of the same inventory to finish."),
]


def _common(fn: Any) -> Any:
    for option in reversed(_COMMON):
        fn = option(fn)
    return fn


@click.command("apply")
@click.argument("rendered", required=False, type=click.Path(file_okay=False, path_type=Path))
@_common
@click.option("--dry-run", is_flag=True, help="Plan with server-side dry-run; change nothing.")
@click.option("--attestation-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the attestation (default .mentat/attestations/ENV.REGION.TIME.json).")
@_OUTPUT
def apply(rendered: Path | None, env: str, region: str, trust: Path | None, identity: str | None,
          issuer: str | None, kubeconfig: Path | None, context: str | None, force_conflicts: bool,
          allow_prune: tuple[str, ...], allow_unsigned: bool, audit_log: Path | None, sign_pki: Path | None,
          sign_keyless: bool, passphrase_env: str | None, timeout: str, wait: bool, inventory_namespace: str,
          lease_wait: str, dry_run: bool, attestation_out: Path | None, fmt: str) -> NoReturn:
    """Apply one target of a signed output tree to a cluster: verify → plan → apply → health →
    prune → attest → audit.

    The plan (create, update with a field diff, delete, noop; Secret data masked) is printed
    before anything changes. Objects are applied with server-side apply (field manager
    mentatctl) and labelled with the inventory; what the inventory holds and the tree no
    longer renders is pruned, within the prune budget (30% of the inventory; never a
    Namespace, CRD or PVC unless --allow-prune approves it; never from an empty tree).

    Drift is taken back, as Flux does: a field we apply that someone changed with an
    ordinary write (kubectl edit, patch, scale) is shown in the plan with who changed it and
    restored. A field another server-side applier owns is a conflict: the reconcile fails
    naming field and manager, unless --force-conflicts.

    .mentat/applied/ remembers what was applied: a manifest unchanged since, whose objects
    nobody has written to (same resourceVersion), is a noop without being read again.

    \b
    Examples:
      mentatctl apply rendered --env staging --region eu-west-1 --trust pki/root.pem --dry-run
      mentatctl apply --env prod --region us-east-1 --trust pki/root.pem --context prod -o json
    """
    opts = _options_or_exit(rendered, env, region, trust, identity, issuer, allow_unsigned, dry_run,
                            force_conflicts, allow_prune, audit_log, attestation_out, sign_pki,
                            passphrase_env, timeout, wait, inventory_namespace, lease_wait, sign_keyless)
    outcome = run_once(opts, kubeconfig, context, fmt)
    sys.exit(0 if outcome.ok else 1)


# --- controller --------------------------------------------------------------------------------


@click.command("controller")
@click.option("--source", required=True, metavar="DIR|GIT_URL",
              help="The signed rendered tree: a directory, or a git repository pulled before each reconcile.")
@click.option("--path", "subdir", default="rendered", show_default=True,
              help="The rendered tree's directory inside the source.")
@click.option("--interval", default="60s", show_default=True, help="Time between reconciles.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True,
              help="Address of /healthz, /readyz and /metrics.")
@click.option("--once", is_flag=True, help="Reconcile once and exit (exit 1 if it failed).")
@_common
def controller(source: str, subdir: str, interval: str, listen: str, once: bool, env: str, region: str,
               trust: Path | None, identity: str | None, issuer: str | None, kubeconfig: Path | None,
               context: str | None, force_conflicts: bool, allow_prune: tuple[str, ...], allow_unsigned: bool,
               audit_log: Path | None, sign_pki: Path | None, sign_keyless: bool, passphrase_env: str | None,
               timeout: str, wait: bool, inventory_namespace: str, lease_wait: str) -> NoReturn:
    """Reconcile a source again and again: pull or re-read, verify → plan → apply → health →
    prune → attest → audit, sleep. SIGTERM finishes the running step and exits.

    
    Example:
      mentatctl controller --source https://github.com/acme/flows.git --env prod \
        --region us-east-1 --trust /etc/mentat/root.pem --interval 60s --listen 0.0.0.0:8080
    """
    import signal

    from compiler.controller.loop import Controller, Source, serve

    cache = Path(os.environ.get("MENTAT_CACHE", "") or (Path.cwd() / ".mentat" / "controller"))
    src = Source(source, cache, subdir)
    placeholder = Path(source) if not src.is_git and Path(source).is_dir() else Path.cwd()
    opts = _options_or_exit(placeholder, env, region, trust, identity, issuer, allow_unsigned, False,
                            force_conflicts, allow_prune, audit_log, None, sign_pki, passphrase_env, timeout,
                            wait, inventory_namespace, lease_wait, sign_keyless)
    opts.attestation_out = opts.audit_log.parent / "attestations" / f"{env}.{region}.latest.json"
    opts.snapshot_dir = opts.audit_log.parent / "applied"  # beside the audit log: a pod's writable volume

    def log(line: str) -> None:
        click.echo(f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} {line}", err=True)

    ctl = Controller(src, opts, _connector(kubeconfig, context), _duration(interval), log=log)
    if once:
        outcome = ctl.once()
        sys.exit(0 if outcome is not None and outcome.ok else 1)
    host, _, port = listen.rpartition(":")
    try:
        server = serve(ctl, host or "127.0.0.1", int(port))
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"--listen {listen}: {exc}") from exc

    def stop(signum: int, _frame: object) -> None:
        ctl.log(f"signal {signum}: finishing the current step, then exiting")
        ctl.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ctl.log(f"controller: {source} → {env}/{region} every {interval}; probes on http://{listen}")
    ctl.run()
    server.shutdown()
    sys.exit(0)


# --- audit -------------------------------------------------------------------------------------


@click.group("audit")
def audit() -> None:
    """Check the hash-chained audit log the controller appends to.

    \b
    Example:
      mentatctl audit verify .mentat/audit.jsonl
    """


@audit.command("verify")
@click.argument("log", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--head", default="",
              help="Expected hash of the last entry (finds entries removed from the end).")
@_OUTPUT
def audit_verify(log: Path, head: str, fmt: str) -> NoReturn:
    """Find any edited, removed, inserted or reordered entry in LOG (exit 1 if there is one).

    \b
    Example:
      mentatctl audit verify .mentat/audit.jsonl -o json
    """
    from compiler.controller.audit import verify_file

    problems = verify_file(log, head)
    lines = sum(1 for ln in log.read_bytes().splitlines() if ln.strip())
    if fmt in ("json", "yaml"):
        click.echo(dump_document(fmt, {"ok": not problems, "entries": lines,
                                       "problems": [p.to_dict() for p in problems]}), nl=False)
    else:
        for p in problems:
            click.echo(f"{log}:{p.line or lines}: error[M900]: audit log {p.kind}: {p.message}", err=True)
        if not problems:
            click.echo(f"ok: {lines} entries, chain intact")
    sys.exit(1 if problems else 0)


# --- verify-attestation ------------------------------------------------------------------------


@click.command("verify-attestation")
@click.argument("attestation", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--trust", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Root CA certificate (PEM) of the PKI that signed the attestation.")
@click.option("--identity", help="Keyless (--sign-keyless): expected signer identity (certificate SAN).")
@click.option("--issuer", help="Keyless: expected OIDC issuer URL.")
@click.option("--rendered", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Also check the attestation is about this output tree (its index.json).")
@_OUTPUT
def verify_attestation(attestation: Path, trust: Path | None, identity: str | None, issuer: str | None,
                       rendered: Path | None, fmt: str) -> NoReturn:
    """Verify an apply attestation: signature, certificate chain (to --trust, or Sigstore's
    trust root and the expected --identity/--issuer for a keyless one), statement, and
    optionally that it attests RENDERED.

    \b
    Example:
      mentatctl verify-attestation .mentat/attestations/prod.us-east-1.20260101T000000Z.json \\
        --trust pki/root.pem --rendered rendered
    """
    from compiler.controller.attest import verify_attestation as check_attestation
    from compiler.controller.attest import verify_attestation_keyless
    from compiler.sign.verify import load_trust_roots

    if trust and (identity or issuer):
        raise click.UsageError("--trust and --identity/--issuer are mutually exclusive")
    if not trust and not (identity and issuer):
        raise click.UsageError("pass --trust ROOT_CERT, or both --identity and --issuer")
    index = (rendered / "index.json").read_bytes() if rendered is not None else None
    if trust is not None:
        check = check_attestation(attestation.read_bytes(), load_trust_roots(trust.read_bytes()),
                                  dt.datetime.now(dt.UTC), index)
    else:
        check = verify_attestation_keyless(attestation.read_bytes(), identity or "", issuer or "", index)
    if fmt in ("json", "yaml"):
        click.echo(dump_document(fmt, check.to_dict()), nl=False)
    elif check.ok:
        pred = check.statement["predicate"]
        target = pred.get("target") or {}
        server = (pred.get("cluster") or {}).get("server")
        click.echo(f"verified {attestation}: signed by {check.signer}; {pred.get('result')} apply of "
                   f"{target.get('environment')}/{target.get('region')} to {server}, "
                   f"{len(pred.get('objects') or [])} objects, at {pred.get('finishedOn')}")
    else:
        for problem in check.problems:
            click.echo(f"{attestation}: error[M900]: {problem}", err=True)
    sys.exit(0 if check.ok else 1)
