"""`compile` and `validate`: replay or run the pipeline, then deliver the result through a
chain of named steps (as Flux's reconcilers do):

    show → place → diff → write → record

`show` prints a leaf as one YAML stream (`--stdout`) and ends the chain; `place` resolves
the output directory; `diff` compares the new tree with the one on disk (the whole of
`--check`); `write` replaces the tree atomically when it differs; `record` remembers the
outcome in the incremental cache. A step returns False to end the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.cache import Cache, Replay
from compiler.diagnostics import Diagnostic, Severity, has_errors
from compiler.load import output_conflict, output_dir
from compiler.pipeline import CompileResult, compile_workspace
from compiler.render.layout import SIGNATURE_SUFFIX
from compiler.tasks import Usage
from compiler.write import Standby, TreeDiff, diff_tree, write_tree

__all__ = ["CompileOptions", "Outcome", "compile_task", "deliver", "validate_task"]

OnStage = Callable[[str], None] | None
_SAID_ONCE = frozenset({"M700", "M805"})  # drift (--check), a signature the write dropped
_REPLAYED = "cache: nothing the last compile read or wrote has changed; its report stands"


@dataclass(frozen=True, slots=True)
class CompileOptions:
    out: str | None = None  # absolute; None: the workspace's spec.output
    check: bool = False  # compare only (exit 1 on drift)
    to_stdout: bool = False  # print one leaf as a YAML stream
    target: str | None = None  # with to_stdout: ENV/REGION
    use_cache: bool = True
    replay: bool = True  # with the cache: report the last compile's outcome if nothing changed


@dataclass(slots=True)
class Outcome:
    """What a compile or validate reports; the CLI prints it and exits 1 when it failed."""

    diagnostics: list[Diagnostic]
    output: Path | None = None  # the output directory (compile)
    files: int = 0
    diff: TreeDiff = field(default_factory=TreeDiff)
    waivers: list[dict[str, Any]] = field(default_factory=list)  # as -o json prints them
    waiver_lines: list[str] = field(default_factory=list)  # as text prints them
    flows: int = 0
    replayed: bool = False
    stream: bytes | None = None  # --stdout: the YAML stream
    inputs: dict[str, str] = field(default_factory=dict)  # every file read (not when replayed)

    @property
    def failed(self) -> bool:
        return has_errors(self.diagnostics)


def compile_task(root: Path, opts: CompileOptions, on_stage: OnStage = None,
                 log: Callable[[str], None] = lambda _: None) -> Outcome:
    """Compile `root` and deliver the result as `opts` ask."""
    cache = Cache(root) if opts.use_cache else None
    if cache is not None and not opts.to_stdout:
        replay = cache.replay(opts.out) if opts.replay else None
        if replay is not None:
            log(_REPLAYED)
            return _replayed(replay)
        if not opts.check:  # it writes nothing: no standby to walk or hold
            cache.prescan()  # the output trees are walked while the compile runs
    # --stdout: layout dumps the leaf while the policy children evaluate, and without the
    # cache only the leaf (every leaf's files would be emitted only to be dropped; with the
    # cache, layout also serialises the units it saves)
    result = compile_workspace(root, opts.out, on_stage=on_stage,
                               memos=cache.memos if cache else None,
                               leaf=(opts.target or "") if opts.to_stdout else None)
    outcome = deliver(root, result, opts, cache)
    outcome.inputs = result.inputs
    return outcome


def deliver(root: Path, result: CompileResult, opts: CompileOptions, cache: Cache | None
            ) -> Outcome:
    """Deliver a compile's result as `opts` ask, recording it in `cache` (whose memos the
    compile used). `diff` delivers a kept commit's compile this way."""
    if not result.ok or result.workspace is None:
        return Outcome(result.diagnostics)
    delivery = _Delivery(root, result, opts, cache)
    for step in (delivery.show, delivery.place, delivery.diff, delivery.write, delivery.record):
        if not step():
            break
    return delivery.outcome


def validate_task(root: Path, use_cache: bool, on_stage: OnStage = None,
                  log: Callable[[str], None] = lambda _: None,
                  stop_after: str | None = None) -> Outcome:
    """Everything `compile` checks, writing no output (the cache is used and updated), or
    the stages up to `stop_after` (then nothing is replayed or saved: a partial run)."""
    from compiler.pipeline import STAGES

    if stop_after is not None and stop_after not in STAGES:
        raise Usage(f"unknown stage {stop_after!r}; stages: {', '.join(STAGES)}")
    cache = Cache(root) if use_cache else None
    replay = cache.replay(None) if cache is not None and stop_after is None else None
    if replay is not None:  # the last compile read exactly these inputs, and succeeded
        log(_REPLAYED)
        return _replayed(replay)
    from compiler.policy import waiver_lines

    result = compile_workspace(root, None, stop_after=stop_after, on_stage=on_stage,
                               memos=cache.memos if cache else None)
    if cache is not None and stop_after is None and result.ok and result.workspace is not None:
        cache.save(result.workspace.source_digests, written=False)
    return Outcome(result.diagnostics, files=len(result.files),
                   waiver_lines=waiver_lines(result.policy.waivers),
                   flows=len(result.workspace.flows) if result.workspace else 0)


def _replayed(replay: Replay) -> Outcome:
    return Outcome(replay.diagnostics, Path(replay.output), replay.files,
                   waivers=replay.waivers, waiver_lines=replay.waiver_lines, replayed=True)


class _Delivery:
    """The delivery chain's state: what the compile made and what each step found."""

    def __init__(self, root: Path, result: CompileResult, opts: CompileOptions,
                 cache: Cache | None) -> None:
        from compiler.policy import waiver_lines, waivers_json

        assert result.workspace is not None
        self.root, self.result, self.opts, self.cache = root, result, opts, cache
        self.outcome = Outcome(list(result.diagnostics), files=len(result.files),
                               waivers=waivers_json(result.policy.waivers),
                               waiver_lines=waiver_lines(result.policy.waivers))
        self.out_dir = root
        self.standby: Standby | None = None

    def show(self) -> bool:
        """--stdout: one leaf (and the cluster-wide objects) as a YAML stream."""
        if not self.opts.to_stdout:
            return True
        self.outcome.stream = _stream(self.result, self.opts.target)
        if self.cache:
            self.cache.save(self._sources, written=False)
        return False

    def place(self) -> bool:
        """The output directory: inside the workspace (or --out), and not a source."""
        self.out_dir, problem = _output_dir(self.root, self.result, self.opts.out)
        if problem is not None:
            self.outcome.diagnostics.append(problem)
            return False
        self.outcome.output = self.out_dir
        return True

    def diff(self) -> bool:
        """The files that differ from the tree on disk (with --check, drift is an error)."""
        out, cache, check = self.out_dir, self.cache, self.opts.check
        files = self.result.files
        known = cache.outputs.known(out) if cache else None
        scanned = cache.outputs.scanned(out) if cache else None
        diff = diff_tree(out, files, known, scanned)
        self.standby = cache.outputs.standby(out) if cache and diff and not check else None
        if scanned is not None and (self.standby is None or self.standby.lock is None):
            # The helper walked the tree before the compile: enough to choose what the held
            # standby rewrites (it replaces the whole tree), not to find nothing changed or
            # to decide which files to link, when a file may have been edited meanwhile.
            diff = diff_tree(out, files, known)
            self.standby = cache.outputs.standby(out) if cache and diff and not check else None
        self.outcome.diff = diff
        if check and diff:
            self.outcome.diagnostics.append(_drift(out, diff))
        return True

    def write(self) -> bool:
        """Replace the tree atomically when it differs; a signed tree loses its signature."""
        diff = self.outcome.diff
        if not diff or self.opts.check:
            return True
        signed = _signed(self.out_dir)
        found = write_tree(self.out_dir, self.result.files, diff, self.standby)
        self.outcome.diagnostics += found
        if found:
            return True  # recorded as failed: the cache must not trust the tree
        if signed:
            self.outcome.diagnostics.append(_stale_signature(self.out_dir, diff, signed))
        return True

    def record(self) -> bool:
        """Remember the outcome for the next compile (replay) and the cache entries."""
        if self.cache is None:
            return True
        result, outcome, check = self.result, self.outcome, self.opts.check
        failed = outcome.failed
        if not any(f.status in ("limit", "skipped") for f in result.policy.findings):
            # outcomes that depend on timing are not worth replaying; drift and a stale
            # signature are said once (the tree is rewritten, or signed again)
            said = [d for d in outcome.diagnostics if d.code not in _SAID_ONCE]
            self.cache.memos.builds.record(
                self.opts.out, result.inputs,
                Replay(str(self.out_dir), len(result.files), said, outcome.waivers,
                       outcome.waiver_lines))
        diff = outcome.diff
        tree_matches = not failed and not (check and diff)
        self.cache.save(self._sources, self.out_dir if tree_matches else None, result.files,
                        written=bool(diff) and not check, standby=self.standby)
        return True

    @property
    def _sources(self) -> dict[str, str]:
        assert self.result.workspace is not None
        return self.result.workspace.source_digests


def _drift(out: Path, diff: TreeDiff) -> Diagnostic:
    return Diagnostic(
        "M700", f"{shown(out)} is out of date: {len(diff.changed)} changed, "
        f"{len(diff.added)} missing, {len(diff.removed)} extra file(s): "
        + ", ".join((diff.changed + diff.added + diff.removed)[:10]),
        hint="run `mentatctl compile` and commit the result")


def _signed(out_dir: Path) -> str:
    """The signature bundle's name when the output tree is signed, else ''."""
    found = sorted(p.name for p in out_dir.glob(f"*{SIGNATURE_SUFFIX}")) if out_dir.is_dir() else []
    return found[0] if found else ""


def _stale_signature(out_dir: Path, diff: TreeDiff, bundle: str) -> Diagnostic:
    """A signed tree this compile changed: the write drops the signature (it covers the old
    index), and the user should know before a deploy refuses the tree."""
    n = len(diff.added) + len(diff.removed) + len(diff.changed)
    return Diagnostic("M805", f"the signature no longer applies: this compile changed {n} "
                      f"signed file(s), so {bundle} was removed", f"{shown(out_dir)}/{bundle}",
                      severity=Severity.WARNING,
                      hint="sign again (mentatctl sign); until then verify refuses the tree")


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd())) or "."
    except ValueError:
        return str(path)


def _output_dir(root: Path, result: CompileResult, out: str | None) -> tuple[Path, Diagnostic | None]:
    assert result.workspace is not None
    spec = result.workspace.spec
    p = spec.doc.pos(("spec", "output"))
    if out is not None:
        target: Path | None = Path(out).resolve()  # a symlink is followed, not replaced
        named = out
    else:
        target, named = output_dir(root, spec.output), spec.output
        if target is None:
            return root, Diagnostic("M107", f"output '{spec.output}' must be a directory inside "
                                    "the workspace", spec.doc.file, p.line, p.col)
    assert target is not None
    conflict = output_conflict(root, target, spec.spec, result.inputs)
    if conflict is not None:
        where = (spec.doc.file, p.line, p.col) if out is None else ("", 0, 0)
        return root, Diagnostic("M701", f"output '{named}' cannot be written: {conflict}", *where,
                                hint="choose an output directory of its own, e.g. rendered/")
    return target, None


def _stream(result: CompileResult, target: str | None) -> bytes:
    stream = result.stream
    assert stream is not None
    if stream.text is not None:
        return stream.text
    if not target:
        raise Usage("--stdout needs --target, one of: " + ", ".join(stream.leaves))
    raise Usage(f"unknown target {target!r}; targets: {', '.join(stream.leaves)}")
