"""`mentatctl compile --watch` as a user runs it: a child process on a workspace, its JSON
lines read as they come (each a compile), its stderr kept, stopped with a signal."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[4]
NEWS = "flows/flows/news-digest.yaml"  # a flow of the example workspace (example_ws)
# A liveness guard, not a timing assertion: a line that never comes fails instead of hanging.
PATIENCE_S = 120.0


class Watch:
    """`compile --watch -o json` on `ws` (with `args`), read line by line."""

    def __init__(self, ws: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "compiler.cli", "compile", str(ws), "--watch", "-o", "json",
             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._errs: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [threading.Thread(target=_pump, args=(stream, into), daemon=True)
                       for stream, into in ((self.proc.stdout, self._lines),
                                            (self.proc.stderr, self._errs))]
        for pump in self._pumps:
            pump.start()

    def next(self) -> dict[str, Any]:
        """The next compile's JSON line."""
        line = self._lines.get(timeout=PATIENCE_S)
        assert line is not None, f"the watch ended: {''.join(self.stderr)[-2000:]}"
        doc: dict[str, Any] = json.loads(line)
        return doc

    def said(self, text: str) -> None:
        """Wait for a stderr line holding `text` (with -v: what the loop decided)."""
        while True:
            line = self._errs.get(timeout=PATIENCE_S)
            assert line is not None, f"the watch ended before saying {text!r}"
            self.stderr.append(line)
            if text in line:
                return

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=PATIENCE_S)
        while (line := self._errs.get(timeout=PATIENCE_S)) is not None:
            self.stderr.append(line)
        return code

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *_: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pump in self._pumps:  # each ends at its pipe's end
            pump.join(timeout=PATIENCE_S)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _pump(stream: IO[str], into: queue.SimpleQueue[str | None]) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def tree(out: Path) -> dict[str, bytes]:
    """Every file under `out`, by relative path."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def whole(out: Path) -> bool:
    """Whether `out` is one compile's tree: exactly the files its index.json lists, each
    with the sha256 listed."""
    files = tree(out)
    index = json.loads(files.pop("index.json"))
    listed = {f["path"]: f["sha256"] for f in index["files"]}
    return listed == {p: hashlib.sha256(b).hexdigest() for p, b in files.items()}
