"""`python -m testenv build|up|down|status`: the test environment for people.

    python -m testenv build                 # every pinned program (cached; a warm run builds nothing)
    python -m testenv build kubectl helm    # just these
    export KUBECONFIG=$(python -m testenv up)   # a control plane that outlives the command
    python -m testenv down                  # stop what `up` started
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from testenv.build import BuildError, build, cache_root
from testenv.controlplane import ControlPlane, ControlPlaneError
from testenv.versions import RECIPES, recipe_for


def _default_run_dir() -> Path:
    return cache_root() / "run"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _build(names: list[str]) -> int:
    recipes = list(RECIPES) if not names else list({recipe_for(n).key: recipe_for(n)
                                                     for n in names}.values())
    for path in build(recipes, log=_log):
        print(path)
    return 0


def _up(run: Path, port: int | None) -> int:
    if (run / "state.json").exists():
        _log(f"a control plane is already up (state in {run}); `python -m testenv down` first")
        return 2
    shutil.rmtree(run, ignore_errors=True)
    cp = ControlPlane(dir=run, apiserver_port=port, detach=True)
    _log("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok ...")
    cp.start()
    _log(f"up: {cp.server}; logs in {run}")
    print(cp.kubeconfig)
    return 0


def _down(run: Path) -> int:
    try:
        state = json.loads((run / "state.json").read_text())
    except (OSError, ValueError):
        _log("nothing to stop: no control plane is up")
        return 0
    pids = list(state.get("pids", {}).values())
    for pid in reversed(pids):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    shutil.rmtree(run, ignore_errors=True)
    _log(f"stopped {len(pids)} processes")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m testenv", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build pinned programs into the cache")
    b.add_argument("names", nargs="*", help="binaries to build (default: all)")
    u = sub.add_parser("up", help="start a control plane; prints its KUBECONFIG path")
    u.add_argument("--port", type=int, help="the apiserver's port (default: a free one)")
    d = sub.add_parser("down", help="stop the control plane `up` started")
    for p in (u, d):
        p.add_argument("--dir", type=Path, default=None,
                       help="its run directory: certificates, logs, state (default: "
                            "<cache>/run)")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "build":
            return _build(args.names)
        run = args.dir or _default_run_dir()
        if args.cmd == "up":
            return _up(run, args.port)
        return _down(run)
    except (BuildError, ControlPlaneError, KeyError) as e:
        _log(f"error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
