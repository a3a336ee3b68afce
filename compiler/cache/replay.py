"""The make-style skip: the outcome of the last successful compile into one output directory
(its diagnostics, waivers and file count), with the sha256 of every file it read. When every
such file, the list of sources found and the output tree (by its stat snapshot) are as they
were, `replay` returns that outcome and the compile is skipped, as make or ninja skip an
up-to-date target; the compiler itself is part of the key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.cache.store import Store, diag_in, diag_out, key
from compiler.diagnostics import Diagnostic
from compiler.digest import sha256_hex
from compiler.load import Discovered, input_digests  # the loader's own discovery, not a copy
from compiler.render.layout import INDEX
from compiler.write.outputs import Outputs

__all__ = ["Builds", "Replay"]


@dataclass(frozen=True, slots=True)
class Replay:
    """What a successful compile reported, to report again while nothing has changed."""

    output: str  # the output directory, absolute
    files: int
    diagnostics: list[Diagnostic]  # warnings and notes (a successful compile has no errors)
    waivers: list[dict[str, Any]]  # as `--format json` prints them
    waiver_lines: list[str]  # as text output prints them


class Builds:
    def __init__(self, store: Store, outputs: Outputs, root: Path) -> None:
        self._store, self._outputs, self._root = store, outputs, root
        self._discovered: Discovered | None = None  # what replay read (load reads no more)
        self.last_output: tuple[Path, int] | None = None  # where the last compile wrote
        # the build entry `store` writes: key, inputs, the rest of the outcome
        self._record: tuple[str, dict[str, str], tuple[Any, ...]] | None = None

    def replay(self, output: str | None) -> Replay | None:
        """The last compile's outcome for `output` (None: the workspace's spec.output), when
        the compiler, every file it read, the set of sources it would find, where the output
        directory resolves (a symlink may point elsewhere now) and the output tree are
        exactly as they were; otherwise None and the caller compiles."""
        build_key = self._key(output)
        value = self._store.get("build", build_key)
        try:
            inputs, index_sha, out, files, diags, waivers, lines = value
            if not (type(inputs) is dict and type(out) is str and type(files) is int
                    and type(index_sha) is str and type(waivers) is list
                    and all(type(s) is str for s in (*inputs, *inputs.values(), *lines))):
                raise TypeError("bad build entry")
            replay = Replay(out, files, [diag_in(t) for t in diags], waivers, list(lines))
            self.last_output = (Path(out), files)
        except (TypeError, ValueError):
            if value is not None:
                self._store.reject("build", build_key)
            return None
        now = input_digests(self._root, output, inputs)
        self._discovered = now[2] if now is not None else None
        if now is None or now[:2] != (inputs, Path(out)):
            return None
        known = self._outputs.known(Path(out))
        index = known.get(INDEX)
        if (index is None or index[1] != index_sha or len(known) != files
                or not self._outputs.untouched(Path(out))):
            return None  # the snapshot must list every file the compile wrote, as it is now
        self._store.stats.count("build", True)
        self._store.touch("build", build_key)
        self._outputs.touch(Path(out))
        return replay

    def discovered(self) -> Discovered | None:
        """What `replay` found and read of the workspace, once (for `load`)."""
        found, self._discovered = self._discovered, None
        return found

    def record(self, output: str | None, inputs: dict[str, str], replay: Replay) -> None:
        """Remember this compile's outcome for `replay`; `store` keeps it when the output
        tree matches the compile."""
        rest = (replay.output, replay.files, [diag_out(d) for d in replay.diagnostics],
                replay.waivers, replay.waiver_lines)
        self._record = (self._key(output), dict(sorted(inputs.items())), rest)

    def store(self, index: bytes) -> None:
        """Keep the recorded outcome of a compile whose output tree has this index.json."""
        if self._record is None:
            return
        build_key, inputs, rest = self._record
        value = (inputs, sha256_hex(index), *rest)
        if self._store.get("build", build_key) != value:
            self._store.put("build", build_key, value)

    def _key(self, output: str | None) -> str:
        # a copied workspace carries its .mentat/: the record of another tree is not ours
        return key("build", (str(self._root.resolve()), output or ""))
