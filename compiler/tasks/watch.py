"""`compile --watch`: compile, then compile again each time the workspace's inputs change, in
this process, as `tsc --watch` does. Nothing is kept that a one-shot compile would not find
the same: each compile is `compile_task` with a fresh view of the incremental cache (what a
compile saved is what the next one reads). What stays warm is what the process holds anyway:
the imports, the compiled CEL rules (`parse_rule_file`), the JSON-schema validators and
Kubernetes schemas (module-level caches), the compiler's fingerprint, which a one-shot
compile pays for on every run, and the cache's packed entries and output snapshots this
process last read or wrote, read again only when their file changed (`compiler/cache/held.py`).

Changes come from watchfiles (inotify through Rust's notify) on the workspace, read in
threads from before the first compile, so a save during a compile is not lost; the output
tree and .mentat/ are not watched (`_Changes`). A change counts (`Relevance`) when it is to
a file the last compile read or a directory holding one, or could be a new input: a path
discovery would find (no hidden part; `.git/`, `.mentat/`, editor swap and lock files and
the writer's temporary trees are all hidden) with a suffix the loader reads, or a new
directory. Changes in the output tree never count, so the compile's own writes do not
trigger the next one.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType

from compiler import digest
from compiler.cache import Cache, held
from compiler.load import WORKSPACE_FILE, output_dir, parse_yaml, read_source
from compiler.tasks.compile import CompileOptions, OnStage, Outcome, compile_task

__all__ = ["STEP_MS", "Compiled", "Relevance", "watch_task"]

# A batch of changes is handed on once no new one has come for a step (watchfiles' `step`),
# so an edit waits one to two steps before its compile starts. Measured here (inotify, 2
# busy cores): a vim save (swap files, write) is 5-18 events within 2 ms, gaps under 1 ms; a
# `git checkout` changing 192 flows is 768 events over 17 ms, gaps under 3 ms. 10 ms takes
# each in one batch with room to spare; a burst split anyway costs one more compile.
STEP_MS = 10
_MAX_BATCH_MS = 1600  # a `git checkout` writing for longer is compiled in parts
# suffixes of the files the loader reads: sources and policy rules, wasm modules
_INPUT_SUFFIXES = (".yaml", ".yml", ".wasm", ".wat")


@dataclass(frozen=True, slots=True)
class Compiled:
    """One compile of the loop: its outcome, its own duration and what set it off."""

    outcome: Outcome
    seconds: float
    changes: tuple[str, ...]  # workspace-relative paths; empty for the first compile
    first: bool


class Relevance:
    """Which changed paths can change what a compile reads, given the last compile's inputs
    (every file it read, by workspace-relative path) and its output directory. Paths are
    compared as strings: a compile writing 10k files hands the watch 10k or more of them."""

    def __init__(self, root: Path, output: Path | None = None) -> None:
        self.root = root.resolve()
        self._root = str(self.root) + os.sep
        self._output = str(output.resolve()) if output is not None else None
        self.inputs: frozenset[str] = frozenset()
        self._dirs: frozenset[str] = frozenset()  # directories holding an input

    @property
    def output(self) -> str | None:
        return self._output

    def update(self, inputs: Iterable[str], output: Path | None) -> None:
        self.inputs = frozenset(inputs)
        self._dirs = frozenset(str(p) for rel in self.inputs for p in Path(rel).parents
                               if str(p) != ".")
        if output is not None:
            self._output = str(output.resolve())

    def relevant(self, path: str, is_dir: Callable[[str], bool] = os.path.isdir) -> str | None:
        """`path`'s workspace-relative form when a change there counts, else None."""
        out = self._output
        if out is not None and (path == out or path.startswith(out + os.sep)):
            return None  # the compile's own writes
        if not path.startswith(self._root):
            return None
        rel = path[len(self._root):].replace(os.sep, "/")
        if rel in self.inputs or rel in self._dirs:
            return rel
        if rel.startswith(".") or "/." in rel:
            return None  # discovery never reads hidden entries
        if rel.endswith(_INPUT_SUFFIXES) or is_dir(path):
            return rel
        return None


class _Changes:
    """Batches of changed paths from two watchers feeding one queue: the workspace root itself
    (not recursively: mentat.yaml, sources at the top, directories appearing) and, each
    recursively, the directories in it but the output tree and hidden ones (.git/, .mentat/:
    the cache and the standby trees), unless they hold an input. Not watching what the
    compile writes saves the watcher ~1.5 s of CPU in a cold 10k-object compile (A/B: 4.4-5.3
    s against 5.8-6.8 s, in-process, the root watched recursively)."""

    def __init__(self, root: Path) -> None:
        self._queue: queue.SimpleQueue[set[str]] = queue.SimpleQueue()
        self._root = root
        self._top = _Watcher(self._queue, [str(root)], recursive=False)
        self._inner: _Watcher | None = None

    def rescope(self, output: str | None, inputs: Iterable[str]) -> None:
        """Watch the root's directories as they are now (before a compile: a directory made
        since the last one is read by discovery, and watched from here on)."""
        holding = {rel.split("/")[0] for rel in inputs if "/" in rel}
        try:
            entries = sorted(os.scandir(self._root), key=lambda e: e.name)
        except OSError:
            entries = []  # the compile reports what is wrong with the workspace
        dirs = [e.path for e in entries if e.path != output and e.is_dir()
                and (not e.name.startswith(".") or e.name in holding)]
        if self._inner is not None and self._inner.paths == dirs:
            return
        if self._inner is not None:
            self._inner.close()
        self._inner = _Watcher(self._queue, dirs, recursive=True) if dirs else None

    @property
    def watched(self) -> list[str]:
        """The directories watched recursively."""
        return list(self._inner.paths) if self._inner is not None else []

    def take(self) -> set[str]:
        """The next batch, with any others already waiting (blocks; a signal interrupts)."""
        paths = self._queue.get()
        while not self._queue.empty():
            paths |= self._queue.get()
        return paths

    def close(self) -> None:
        for watcher in (self._top, self._inner):
            if watcher is not None:
                watcher.close()


class _Watcher:
    """One watchfiles watcher of `paths`, read in a daemon thread from construction on."""

    def __init__(self, into: queue.SimpleQueue[set[str]], paths: list[str],
                 recursive: bool) -> None:
        import watchfiles

        self.paths = paths
        self._stop = _Stop()
        changes = watchfiles.watch(*paths, watch_filter=None, step=STEP_MS,
                                   debounce=_MAX_BATCH_MS, stop_event=self._stop,
                                   rust_timeout=0, recursive=recursive)  # no timeout: changes only

        def run() -> None:
            for batch in changes:
                into.put({path for _, path in batch})

        threading.Thread(target=run, name="watch", daemon=True).start()
        self._stop.polled.wait()  # the watcher exists: nothing written from now on is missed

    def close(self) -> None:
        self._stop.stopped = True


class _Stop:
    """The stop event watchfiles polls after each step: its first poll comes from a watcher
    that is already set up (watchfiles has no other signal for that)."""

    def __init__(self) -> None:
        self.polled = threading.Event()
        self.stopped = False

    def is_set(self) -> bool:
        self.polled.set()
        return self.stopped


class _Stopped(Exception):
    """SIGTERM: leave the loop as Ctrl-C does."""


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise _Stopped


@held.holding()  # what the cache verified stays in memory between this process's compiles
def watch_task(root: Path, opts: CompileOptions, report: Callable[[Compiled], None],
               progress: Callable[[], AbstractContextManager[OnStage]],
               log: Callable[[str], None] = lambda _: None) -> None:
    """Compile `root` as `opts` ask, then again after each change that counts, reporting
    each compile; returns on Ctrl-C or SIGTERM (a compile they interrupt leaves the previous
    output tree whole: the write is atomic)."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    collecting = gc.isenabled()
    changes: _Changes | None = None
    try:
        relevance = Relevance(root, _output(root, opts))
        changes = _Changes(relevance.root)
        # A process that compiles for hours must collect cycles: it collects once after each
        # compile has been reported, while it waits, and compiles with the collector off as
        # the one-shot compile does. A/B, one-flow edits at 10k objects: 0.26 s per compile
        # against 0.36-0.39 s with the collector on throughout; collecting before the report
        # (re-enabled, it ran at the first allocation) held each line back ~40 ms.
        gc.disable()
        changes.rescope(relevance.output, ())
        _first(root, opts, relevance, progress, report, log)
        _tidy()
        # what the first compile left (imports, caches) is never scanned again: each later
        # collection takes 0.5 ms instead of 10 ms at 10k objects
        gc.freeze()
        for paths in _batches(changes, relevance, log):
            # before the compile: what it reads in a directory made since is read, and
            # watched from here on (a watcher replaced may drop what it had not yet handed on)
            changes.rescope(relevance.output, relevance.inputs)
            compiled = _compile(root, opts, relevance, progress, paths, first=False)
            if compiled.outcome.replayed and not relevance.inputs.intersection(paths):
                log("watch: no input changed")  # a new file no compile reads
            else:
                report(compiled)
            _tidy()
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        if changes is not None:
            changes.close()
        signal.signal(signal.SIGTERM, previous)
        if collecting:
            gc.enable()


def _tidy() -> None:
    """Between compiles: drop the digest memo (it pins the bytes of every output file) and
    collect the compile's cycles."""
    digest.forget()
    gc.collect()


def _first(root: Path, opts: CompileOptions, relevance: Relevance,
           progress: Callable[[], AbstractContextManager[OnStage]],
           report: Callable[[Compiled], None], log: Callable[[str], None]) -> None:
    """The first compile, compiled even when nothing changed since the last run (a replay
    would leave the rules, schemas and imports cold for the first edit). One that cannot
    replay may be cold: it runs in a forked child, reported as this process's, and this
    process then compiles again from the cache the child filled, as `--check` does (writing
    nothing: an edit made meanwhile is compiled and reported by the loop). A process that
    compiled cold itself keeps its heap spread over what that compile held: each later edit
    cost ~20% more CPU (in-process A/B at 10k objects: 0.30 against 0.245 s per edit)."""
    warm = replace(opts, replay=False)
    cache = Cache(root) if opts.use_cache else None
    if (cache is not None and not cache.disabled and cache.replay(opts.out) is None
            and "fork" in multiprocessing.get_all_start_methods()):
        log("watch: nothing to replay: the first compile runs in a child process")
        forked = _forked(root, warm, progress)
        if forked is not None:
            report(forked)
            relevance.update(forked.outcome.inputs, forked.outcome.output)
            if not forked.outcome.failed:  # else nothing was cached: nothing to warm
                compile_task(root, replace(warm, check=True))
            return
    report(_compile(root, warm, relevance, progress, (), first=True))


def _forked(root: Path, opts: CompileOptions,
            progress: Callable[[], AbstractContextManager[OnStage]]) -> Compiled | None:
    """`opts`' compile in a forked child, or None if the child died without a result."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    # not a daemon: a daemon may not fork, and the compile forks its policy evaluators
    child = ctx.Process(target=_child, args=(send, root, opts, progress))
    child.start()
    send.close()
    try:
        compiled: Compiled | None = recv.recv()
    except EOFError:
        compiled = None
    except BaseException:  # Ctrl-C or SIGTERM: the child's compile is let go
        child.terminate()
        raise
    finally:
        recv.close()
        child.join()
    return compiled


def _child(send: Connection, root: Path, opts: CompileOptions,
           progress: Callable[[], AbstractContextManager[OnStage]]) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the write is atomic: a kill loses nothing
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which ends it
    send.send(_compile(root, opts, Relevance(root), progress, (), first=True))


def _output(root: Path, opts: CompileOptions) -> Path | None:
    """Where the first compile will write, to leave it unwatched (later compiles say)."""
    if opts.out is not None:
        return Path(opts.out)
    content, _ = read_source(root, WORKSPACE_FILE)
    docs, found = parse_yaml(WORKSPACE_FILE, content) if content is not None else ([], [])
    spec = docs[0].data.get("spec") if len(docs) == 1 and not found else None
    return output_dir(root, spec.get("output", "rendered/")) if isinstance(spec, dict) else None


def _batches(changes: _Changes, relevance: Relevance, log: Callable[[str], None]
             ) -> Iterator[tuple[str, ...]]:
    while True:
        found = {rel for path in changes.take() if (rel := relevance.relevant(path)) is not None}
        if found:
            yield tuple(sorted(found))
        else:
            log("watch: changes outside the inputs, ignored")


def _compile(root: Path, opts: CompileOptions, relevance: Relevance,
             progress: Callable[[], AbstractContextManager[OnStage]], paths: tuple[str, ...],
             first: bool) -> Compiled:
    start = time.perf_counter()
    with progress() as on_stage:
        outcome = compile_task(root, opts, on_stage)
    seconds = time.perf_counter() - start
    if not outcome.replayed:  # a replay read what the last compile read
        relevance.update(outcome.inputs, outcome.output)
    return Compiled(outcome, seconds, paths, first)
