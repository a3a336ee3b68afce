"""Build the pinned programs from their Go modules into a cache outside the repository.

Each recipe gets a wrapper module (`go.mod` requiring the pinned module, with `tool` lines for
its main packages) in `<cache>/src/<name>-<version>/`, and its binaries in
`<cache>/bin/<name>-<version>/`. A stamp beside the binaries records the recipe and each
binary's sha256: a warm run checks the stamp and builds nothing; a binary that does not match
it (another version copied over it, a truncated build) is rebuilt. Go's own module and build
caches stay where Go keeps them, so a rebuild after a bump recompiles only what changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from testenv.versions import OTEL, OTEL_COMPONENTS, RECIPES, STAGING, Recipe, recipe_for

__all__ = ["BuildError", "binary", "build", "cache_root", "go_version", "replaces_for"]

_STAMP = ".stamp.json"
_MIN_GO = (1, 26)


class BuildError(RuntimeError):
    """A program could not be built; the message says which, why and what to do."""


def cache_root() -> Path:
    """`$MENTAT_TESTENV_CACHE`, else `$XDG_CACHE_HOME/mentatlab-testenv` (~/.cache/...)."""
    env = os.environ.get("MENTAT_TESTENV_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mentatlab-testenv"


def go_version() -> tuple[int, int]:
    """The installed Go's (major, minor); a clear BuildError when Go is missing or too old."""
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "Go is not installed (no `go` on PATH). The cluster tests and benchmarks build "
            "etcd, kube-apiserver, kwok and the peer tools from their Go modules: install Go "
            f">= {_MIN_GO[0]}.{_MIN_GO[1]} (e.g. `apt-get install golang`, or the Go toolchain) "
            "and run again.")
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout
    m = re.match(r"go(\d+)\.(\d+)", out.strip())
    if not m:
        raise BuildError(f"cannot read the Go version from `go env GOVERSION`: {out.strip()!r}")
    found = (int(m[1]), int(m[2]))
    if found < _MIN_GO:
        raise BuildError(f"Go {found[0]}.{found[1]} is too old; the pinned modules need "
                         f"Go >= {_MIN_GO[0]}.{_MIN_GO[1]}")
    return found


def replaces_for(kubernetes_go_mod: str, staging_version: str = STAGING) -> list[str]:
    """k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
    `./staging/...`, which means nothing outside its repository. A module that requires it must
    replace each with the published release of the same version; the list comes from the go.mod
    itself, so a new staging module in a later release is picked up without an edit here."""
    names = re.findall(r"^\s*(k8s\.io/[\w.\-/]+)\s*=>\s*\./staging/", kubernetes_go_mod, re.M)
    if not names:
        raise BuildError("k8s.io/kubernetes' go.mod has no ./staging replaces: "
                         "the wrapper cannot be generated for this version")
    return [f"{n} => {n} {staging_version}" for n in sorted(set(names))]


def binary(name: str, *, build_missing: bool = True) -> Path:
    """The path of a pinned program, built first if the cache lacks it (or it is wrong)."""
    recipe = recipe_for(name)
    path = _bin_dir(recipe) / name
    if not _fresh(recipe):
        if not build_missing:
            raise BuildError(f"{name} ({recipe.module}@{recipe.version}) is not built: "
                             "run `python -m testenv build`")
        build([recipe])
    return path


def build(recipes: Iterable[Recipe] = RECIPES, *,
          log: Callable[[str], object] | None = None) -> list[Path]:
    """Build every recipe not already fresh in the cache; returns the binaries' paths."""
    out: list[Path] = []
    for recipe in recipes:
        with _locked(recipe):
            if not _fresh(recipe):
                go_version()
                started = time.monotonic()
                if log:
                    log(f"building {recipe.module}@{recipe.version} ...")
                _build(recipe)
                if log:
                    log(f"built {', '.join(recipe.binaries)} in {time.monotonic() - started:.0f} s")
        out += [_bin_dir(recipe) / b for b in recipe.binaries]
    return out


# --- the cache ----------------------------------------------------------------------------

def _bin_dir(recipe: Recipe) -> Path:
    return cache_root() / "bin" / recipe.key


def _src_dir(recipe: Recipe) -> Path:
    return cache_root() / "src" / recipe.key


def _recipe_id(recipe: Recipe) -> str:
    spec = {"module": recipe.module, "version": recipe.version, "binaries": recipe.binaries,
            "ldflags": recipe.ldflags, "kind": recipe.kind}
    if recipe.kind == "otelcol":
        spec["components"] = OTEL_COMPONENTS
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fresh(recipe: Recipe) -> bool:
    d = _bin_dir(recipe)
    try:
        stamp = json.loads((d / _STAMP).read_text())
    except (OSError, ValueError):
        return False
    if stamp.get("recipe") != _recipe_id(recipe):
        return False
    sums = stamp.get("sha256", {})
    for b in recipe.binaries:
        p = d / b
        # size first: a cheap no for a different binary copied over this one
        if not p.is_file() or p.stat().st_size != sums.get(b, {}).get("size"):
            return False
        if p.stat().st_mtime_ns != sums[b].get("mtime_ns") and _sha256(p) != sums[b].get("sha256"):
            return False
    return True


def _write_stamp(recipe: Recipe) -> None:
    d = _bin_dir(recipe)
    sums = {b: {"sha256": _sha256(d / b), "size": (d / b).stat().st_size,
                "mtime_ns": (d / b).stat().st_mtime_ns} for b in recipe.binaries}
    tmp = d / (_STAMP + ".tmp")
    tmp.write_text(json.dumps({"recipe": _recipe_id(recipe), "module": recipe.module,
                               "version": recipe.version, "sha256": sums}, indent=2))
    tmp.replace(d / _STAMP)


@contextmanager
def _locked(recipe: Recipe) -> Iterator[None]:
    """Two test runs on one machine build a recipe once: the second waits for the first."""
    lock = cache_root() / "locks" / f"{recipe.key}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- building -----------------------------------------------------------------------------

def _go(args: list[str], cwd: Path, what: str) -> str:
    env = {**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local")}
    proc = subprocess.run(["go", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(_explain(what, args, proc.stderr))
    return proc.stdout


def _explain(what: str, args: list[str], stderr: str) -> str:
    tail = "\n".join(stderr.strip().splitlines()[-15:])
    missing = (re.search(r"(\S+@v[^\s:]+): (?:reading|verifying) .*?(403|404|410|not found|"
                         r"unknown revision|not available)", stderr, re.S)
               or re.search(r"module (\S+): .*?(not found|unknown revision)", stderr))
    if missing:
        return (f"{what}: the Go module proxy does not serve {missing[1]} ({missing[2]}). "
                f"Check the pin in testenv/versions.py.\n`go {' '.join(args)}` said:\n{tail}")
    if "requires go >=" in stderr or "toolchain" in stderr:
        return (f"{what}: a module needs a newer Go than this machine has "
                f"(see `go version`).\n`go {' '.join(args)}` said:\n{tail}")
    return f"{what} failed: `go {' '.join(args)}` said:\n{tail}"


def _wrapper_go_mod(recipe: Recipe, replaces: list[str]) -> str:
    lines = [f"module mentatlab.io/testenv/{recipe.name}", "", "go 1.26.0", "",
             f"require {recipe.module} {recipe.version}", ""]
    if replaces:
        lines += ["replace (", *(f"\t{r}" for r in replaces), ")", ""]
    lines += ["tool (", *(f"\t{p}" for p in sorted(set(recipe.binaries.values()))), ")", ""]
    return "\n".join(lines)


def _module_go_mod(recipe: Recipe, cwd: Path) -> str:
    info = json.loads(_go(["mod", "download", "-json", f"{recipe.module}@{recipe.version}"],
                          cwd, f"downloading {recipe.module}@{recipe.version}"))
    return Path(info["GoMod"]).read_text()


def _build(recipe: Recipe) -> None:
    src, out = _src_dir(recipe), _bin_dir(recipe)
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / _STAMP).unlink(missing_ok=True)
    if recipe.kind == "otelcol":
        _build_collector(recipe, src, out)
    else:
        replaces = replaces_for(_module_go_mod(recipe, src)) if recipe.kind == "k8s" else []
        (src / "go.mod").write_text(_wrapper_go_mod(recipe, replaces))
        _go(["mod", "tidy"], src, f"resolving {recipe.module}@{recipe.version}")
        for name, pkg in recipe.binaries.items():
            # built beside, then renamed: `go build` will not overwrite a file it did not make,
            # and an interrupted build never leaves a half-written binary under the real name
            partial = out / f".{name}.partial"
            partial.unlink(missing_ok=True)
            _go(["build", "-trimpath", "-ldflags", f"-s -w {recipe.ldflags}".strip(),
                 "-o", str(partial), pkg], src, f"building {name} from {pkg}@{recipe.version}")
            partial.replace(out / name)
    _check_version(recipe)
    _write_stamp(recipe)


def _check_version(recipe: Recipe) -> None:
    want = recipe.version.lstrip("v")
    for name, argv in recipe.probes:
        proc = subprocess.run([str(_bin_dir(recipe) / name), *argv],
                              capture_output=True, text=True, timeout=60)
        if want not in proc.stdout + proc.stderr:
            raise BuildError(f"{name} built from {recipe.module}@{recipe.version} reports "
                             f"{(proc.stdout + proc.stderr).strip()[:200]!r}, not {want}")


def _build_collector(recipe: Recipe, src: Path, out: Path) -> None:
    """The collector builder (ocb) generates a main module from a manifest and builds it."""
    (src / "go.mod").write_text(_wrapper_go_mod(recipe, []))
    _go(["mod", "tidy"], src, f"resolving {recipe.module}@{recipe.version}")
    _go(["build", "-trimpath", "-o", str(src / "ocb"), recipe.module], src,
        f"building the collector builder {recipe.module}@{recipe.version}")
    (binary_name,) = recipe.binaries
    manifest = textwrap.dedent(f"""\
        dist:
          name: {binary_name}
          description: OpenTelemetry Collector with the components mentatctl renders
          output_path: {src / "dist"}
          version: {OTEL.lstrip("v")}
        """)
    for section, mods in OTEL_COMPONENTS.items():
        manifest += f"{section}:\n" + "".join(f"  - gomod: {m}\n" for m in mods)
    (src / "manifest.yaml").write_text(manifest)
    # ocb writes the sources and go.mod, then its own `go mod tidy` fails on a module that
    # only the components' *tests* import and the proxy does not serve (contrib's
    # pkg/semconvtest); the collector never needs it, so `tidy -e` below finishes the job.
    env = {**os.environ, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "local")}
    proc = subprocess.run([str(src / "ocb"), "--config", str(src / "manifest.yaml"),
                           "--skip-compilation"], cwd=src, env=env, capture_output=True,
                          text=True)
    if not all((src / "dist" / f).is_file() for f in ("go.mod", "main.go", "components.go")):
        raise BuildError(_explain("generating the OpenTelemetry Collector", ["(via ocb)"],
                                  proc.stderr + proc.stdout))
    dist = src / "dist"
    _go(["mod", "tidy", "-e"], dist, "resolving the collector's components")
    _go(["build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / f".{binary_name}.partial"),
         "."], dist, "building the OpenTelemetry Collector")
    (out / f".{binary_name}.partial").replace(out / binary_name)
