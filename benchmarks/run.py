"""Benchmark `mentatctl` against kustomize and helm on synthetic workspaces.

For each size, on this machine, in one run: cold compile (no cache at all, and with the
cache being filled), no-change recompile, one-flow-changed recompile (one-shot, and in a
running `compile --watch`), `compile --check`,
`diff` of a one-flow change between two git commits, `verify`, and two anchors over the tree
the compile produced: `kustomize build` of each rendered/<env>/<region> (it only re-reads and
re-emits that YAML) and `helm template` of a generated chart that renders the same objects
(benchmarks/helm_chart.py; checked equal).
Both peers are the pinned programs testenv/ builds from their Go modules. Every number is
the median of --runs runs of a fresh `python -m compiler.cli` process, with its peak RSS
(wait4 rusage). Writes benchmarks/out/results.json and results.md.

    python benchmarks/run.py                  # 1k and 10k objects, 5 runs each
    python benchmarks/run.py --sizes 1000,10000,50000
    python benchmarks/run.py --smoke          # smallest size, 1 run each (CI)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from generate import ENVIRONMENTS, generate
from helm_chart import same_objects, template_args, write_chart

from testenv import binary

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
KUSTOMIZE_TIMEOUT = 900.0  # seconds per leaf directory


@dataclass(slots=True)
class Sample:
    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    sys_s: list[float] = field(default_factory=list)  # kernel CPU (file creation, mostly)
    cpu_s: list[float] = field(default_factory=list)  # user + kernel CPU, children included
    note: str = ""

    def summary(self) -> dict[str, Any]:
        if not self.seconds:
            return {"skipped": True, "note": self.note}
        return {"median_s": round(statistics.median(self.seconds), 4),
                "min_s": round(min(self.seconds), 4), "runs": len(self.seconds),
                "peak_rss_mb": round(max(self.rss_mb), 1), "exit_codes": sorted(set(self.exit_codes)),
                "median_sys_s": round(statistics.median(self.sys_s), 3) if self.sys_s else None,
                "median_cpu_s": round(statistics.median(self.cpu_s), 3) if self.cpu_s else None,
                "note": self.note}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    # An installed package has its bytecode compiled; measure that, not the compiler of .py.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(cmd: list[str], cwd: Path, timeout: float | None = None
         ) -> tuple[float, float, int, str, float, float]:
    """(seconds, peak RSS in MB, exit code, stderr tail, kernel CPU seconds, user + kernel
    CPU seconds) of one child process. Reaped with wait4, which reports that child's own peak
    RSS and CPU (with the children it reaped: the policy evaluators)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer is not None:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if timer is not None:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-400:].decode(errors="replace")
    return (elapsed, usage.ru_maxrss / 1024, proc.returncode, tail, usage.ru_stime,
            usage.ru_utime + usage.ru_stime)


def _mentat(*args: str) -> list[str]:
    return [sys.executable, "-m", "compiler.cli", *args]


def _measure(sample: Sample, cmd: list[str], cwd: Path, runs: int,
             before: Any = None, timeout: float | None = None) -> Sample:
    for i in range(runs):
        if before is not None:
            before(i)
        secs, rss, code, err, sys_s, cpu = _run(cmd, cwd, timeout)
        sample.seconds.append(secs)
        sample.rss_mb.append(rss)
        sample.sys_s.append(sys_s)
        sample.cpu_s.append(cpu)
        sample.exit_codes.append(code)
        if code not in (0,) and not sample.note:
            sample.note = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
    return sample


def _wipe(ws: Path) -> None:
    """Start from no output and no cache. Moved aside, not deleted: ext4 skips inodes freed
    in the last 30-60 s when it allocates new ones, scanning past each of them (seen with
    perf: `recently_deleted` under `ext4_create`), so creating 10k files right after
    deleting 10k cost 1-2.5 s of kernel CPU and measured that, not the compile. The moved
    trees are deleted when the whole benchmark is done."""
    trash = ws.parent / "trash"
    trash.mkdir(exist_ok=True)
    for name in ("rendered", ".mentat"):
        if (ws / name).exists():
            os.rename(ws / name, trash / f"{ws.name}-{name}-{time.monotonic_ns()}")


def _flow_file(ws: Path) -> Path:
    return sorted((ws / "flows").glob("group-*/flow-*.yaml"))[0]


def _bench_size(size: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ws = work / f"ws-{size}"
    plan = generate(size, ws, seed=args.seed)
    runs = args.runs
    print(f"== {size}: {plan.agents} agents, {len(plan.flows)} flows, {plan.objects} objects",
          file=sys.stderr)
    res: dict[str, Any] = {"objects": plan.objects, "agents": plan.agents, "flows": len(plan.flows)}
    compile_cmd = _mentat("compile", str(ws))

    _wipe(ws)
    _run(compile_cmd, REPO)  # warm the OS page cache and bytecode; not measured
    res["cold_no_cache"] = _measure(Sample(), [*compile_cmd, "--no-cache"], REPO, runs,
                                    before=lambda _: _wipe(ws)).summary()
    res["cold"] = _measure(Sample(), compile_cmd, REPO, runs, before=lambda _: _wipe(ws)).summary()
    res["no_change"] = _measure(Sample(), compile_cmd, REPO, runs).summary()

    flow = _flow_file(ws)
    original = flow.read_text()

    def edit(i: int) -> None:  # a change that alters every object of the flow
        flow.write_text(re.sub(r"owner: team-\d+", f"owner: bench-edit-{i}", original))

    # The first recompile after a cold compile also builds the standby copy of the tree
    # (.mentat/standby/, see compiler/write/tree.py): measured on its own, once.
    res["one_flow_first"] = _measure(Sample(), compile_cmd, REPO, 1,
                                     before=lambda _: edit(runs)).summary()
    res["one_flow_change"] = _measure(Sample(), compile_cmd, REPO, runs, before=edit).summary()
    res["watch_edit"], res["watch_compile"] = _bench_watch(ws, edit, runs)
    flow.write_text(original)
    _run(compile_cmd, REPO)
    res["check"] = _measure(Sample(), [*compile_cmd, "--check"], REPO, runs).summary()
    # CI on a fresh clone: the committed tree, no .mentat/ (git-ignored)
    res["check_cold"] = _measure(Sample(), [*compile_cmd, "--check", "--no-cache"], REPO,
                                 runs).summary()
    res["diff_first"], res["diff_second"], res["diff"] = _bench_diff(ws, flow, original,
                                                                     compile_cmd, runs)
    # verify needs a signature: a throwaway PKI signs the tree once, verify is timed
    pki = ws.parent / f"{ws.name}-pki"
    shutil.rmtree(pki, ignore_errors=True)
    _run(_mentat("pki", "init", str(pki)), REPO)
    _run(_mentat("sign", str(ws / "rendered"), "--pki", str(pki)), REPO)
    res["verify"] = _measure(Sample(), _mentat("verify", str(ws / "rendered"), "--trust",
                                               str(pki / "root.pem")), REPO, runs).summary()
    leaves = [ws / "rendered" / env / r for env, _, regions in ENVIRONMENTS for r in regions]
    leaves = [d for d in leaves if (d / "kustomization.yaml").is_file()]
    res["kustomize"] = _kustomize(leaves, size, args)
    res["helm"], charts = _helm(leaves, args)
    # The comparison: one leaf printed from the sources (`--stdout --target`, no
    # cache: everything checked) against `helm template` of that leaf alone. The largest leaf.
    if charts:
        leaf = max(leaves, key=lambda d: sum(1 for _ in d.iterdir()))
        res["leaf"] = f"{leaf.parent.name}/{leaf.name}"
        _wipe(ws)
        res["leaf_stdout"] = _measure(
            Sample(note=res["leaf"]), [*compile_cmd, "--stdout", "--target", res["leaf"],
                                       "--no-cache"], REPO, runs).summary()
        res["helm_leaf"] = _measure(Sample(note=res["leaf"]), charts[leaves.index(leaf)], REPO,
                                    runs).summary()
    else:
        res["leaf_stdout"] = res["helm_leaf"] = Sample(note="no chart").summary()
    return res


def _bench_watch(ws: Path, edit: Any, runs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same one-flow edits in a running `compile --watch -o json`: from just before the
    write to the JSON line reporting that compile (the debounce step included), and the
    compile's own duration from that line. CPU: the watch's own and its reaped children's
    (the policy evaluators) over that span, from /proc; its peak RSS (VmHWM) for both."""
    proc = subprocess.Popen([*_mentat("compile", str(ws), "--watch", "-o", "json")], cwd=REPO,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    latency, own = Sample(note="write to JSON line"), Sample(note="the compile's own seconds")
    try:
        first = json.loads(proc.stdout.readline())  # the first compile, not measured
        for i in range(runs):
            time.sleep(0.2)  # edits come apart, as a developer's saves do
            cpu, start = _cpu_s(proc.pid), time.perf_counter()
            edit(i)
            line = json.loads(proc.stdout.readline())
            latency.seconds.append(time.perf_counter() - start)
            latency.cpu_s.append(_cpu_s(proc.pid) - cpu)
            own.seconds.append(line["seconds"])
            code = 0 if line["ok"] and first["ok"] else 1
            latency.exit_codes.append(code)
            own.exit_codes.append(code)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak = re.search(r"VmHWM:\s+(\d+) kB", status)
        for sample in (latency, own):
            sample.rss_mb = [int(peak.group(1)) / 1024 if peak else 0.0]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        proc.stdout.close()
    return latency.summary(), own.summary()


def _cpu_s(pid: int) -> float:
    """User + kernel CPU seconds of a running process and the children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _git(ws: Path, *args: str) -> None:
    env = {**_env(), "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    subprocess.run(["git", "-C", str(ws), *args], check=True, env=env, capture_output=True)


def _bench_diff(ws: Path, flow: Path, original: str, compile_cmd: list[str], runs: int
                ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """`mentatctl diff` of a pull request that changes one flow, as CI runs it: the head is
    checked out and compiled in place (its cache warm), so the diff reads the head's output
    tree. The first diff compiles the base from git and keeps its files under .mentat/diff/
    (1 run: what a CI job pays); the second compiles it again and writes its output tree
    there (1 run); the others replay that, as each later diff of the pull request does."""
    (ws / ".gitignore").write_text(".mentat/\nrendered/\n")
    _git(ws, "init", "-q", "-b", "main")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "base")
    flow.write_text(re.sub(r"owner: team-\d+", "owner: bench-diff", original))
    _git(ws, "commit", "-q", "-am", "one flow changed")
    _run(compile_cmd, REPO)  # the head compiled in place (CI's compile --check does this)
    diff = _mentat("diff", str(ws), "--base", "HEAD~1", "--head", "HEAD", "-o", "json")
    first = _measure(Sample(), diff, REPO, 1).summary()
    second = _measure(Sample(), diff, REPO, 1).summary()
    later = _measure(Sample(), diff, REPO, runs).summary()
    flow.write_text(original)
    shutil.rmtree(ws / ".git")
    os.unlink(ws / ".gitignore")
    _run(compile_cmd, REPO)
    return first, second, later


def _sum_over_leaves(name: str, commands: list[list[str]], runs: int) -> Sample:
    """One sample per run: the time of every leaf's command added up, the peak RSS of any."""
    total = Sample(note=f"sum over {len(commands)} leaf directories")
    for i in range(runs):
        secs, peak, cpu, codes = 0.0, 0.0, 0.0, []
        for cmd in commands:
            s, rss, code, _, _, c = _run(cmd, REPO, KUSTOMIZE_TIMEOUT)
            secs, peak, cpu = secs + s, max(peak, rss), cpu + c
            codes.append(code)
        total.seconds.append(secs)
        total.rss_mb.append(peak)
        total.cpu_s.append(cpu)
        total.exit_codes.append(max(codes, key=abs))
        print(f"   {name} run {i + 1}/{runs}: {secs:.2f} s", file=sys.stderr)
    return total


def _kustomize(leaves: list[Path], size: int, args: argparse.Namespace) -> dict[str, Any]:
    if size > args.kustomize_max:
        return Sample(note=f"kustomize skipped above {args.kustomize_max} objects: it grows "
                           "quadratically and takes minutes there").summary()
    if not leaves:
        return Sample(note="no rendered tree to re-emit: the compile failed").summary()
    kustomize = str(binary("kustomize"))
    runs = args.runs if size <= 2000 else 1
    return _sum_over_leaves("kustomize", [[kustomize, "build", str(leaf)] for leaf in leaves],
                            runs).summary()


def _helm(leaves: list[Path], args: argparse.Namespace
          ) -> tuple[dict[str, Any], list[list[str]]]:
    """`helm template` of one chart per leaf, each checked to render the leaf's objects;
    the summed sample and each leaf's command."""
    if not leaves:
        return Sample(note="no rendered tree to chart: the compile failed").summary(), []
    helm = str(binary("helm"))
    charts = []
    for leaf in leaves:
        chart = leaf.parents[2] / "charts" / f"{leaf.parent.name}-{leaf.name}"
        write_chart(leaf, chart)
        out = subprocess.run([helm, *template_args(chart)], capture_output=True, text=True,
                             check=False)
        if out.returncode != 0 or not same_objects(out.stdout, leaf):
            return Sample(note=f"the chart for {leaf.name} does not render the same objects: "
                               f"{out.stderr.strip()[-200:]}").summary(), []
        charts.append([helm, *template_args(chart)])
    return _sum_over_leaves("helm", charts, args.runs).summary(), charts


def _machine() -> dict[str, Any]:
    cpu = ""
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = m.group(1).strip() if m else ""
    except OSError:
        pass
    def version(name: str, *args: str) -> str:
        out = subprocess.run([str(binary(name)), *args], capture_output=True, text=True)
        return (out.stdout or out.stderr).strip().splitlines()[0][:60]

    return {"nproc": os.cpu_count(), "cpu": cpu or platform.processor(),
            "python": platform.python_version(), "platform": platform.platform(),
            "kustomize": version("kustomize", "version"),
            "helm": version("helm", "version", "--short"),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def _slope(results: dict[str, Any], key: str) -> dict[str, float] | None:
    pts = [(r["objects"], r[key]["median_s"]) for r in results.values()
           if "median_s" in r.get(key, {})]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx, my = sum(x for x, _ in pts) / n, sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    return {"ms_per_1k_objects": round(slope * 1e6, 2), "intercept_s": round(my - slope * mx, 3)}


_ROWS = [("cold_no_cache", "cold compile, no cache"), ("cold", "cold compile, filling the cache"),
         ("no_change", "no-change recompile"),
         ("one_flow_first", "one flow changed, first time after the cold compile (1 run)"),
         ("one_flow_change", "one flow changed"),
         ("watch_edit", "one flow changed, in `compile --watch` (write to its JSON line)"),
         ("watch_compile", "one flow changed, in `compile --watch` (the compile's own time)"),
         ("check", "compile --check"),
         ("check_cold", "compile --check --no-cache (CI on a fresh clone)"),
         ("diff_first", "diff, one flow changed, first time (base compiled, kept; 1 run)"),
         ("diff_second", "diff, second time (base compiled, its tree written; 1 run)"),
         ("diff", "diff, one flow changed (head's tree read, kept base replayed)"),
         ("verify", "verify"),
         ("kustomize", "kustomize build (anchor)"),
         ("helm", "helm template, every leaf (anchor, summed)"),
         ("leaf_stdout", "compile --stdout --target LEAF --no-cache (largest leaf)"),
         ("helm_leaf", "helm template of that leaf (anchor)")]


def _markdown(doc: dict[str, Any]) -> str:
    sizes = doc["sizes"]
    head = "| step | " + " | ".join(f"{v['objects']} objects" for v in sizes.values()) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for key, label in _ROWS:
        cells = []
        for v in sizes.values():
            s = v[key]
            if s.get("skipped"):
                cells.append("skipped")
            else:
                codes = "" if s["exit_codes"] == [0] else f" (exit {s['exit_codes']})"
                kernel, cpu = s.get("median_sys_s"), s.get("median_cpu_s")
                peer = key in ("kustomize", "helm", "helm_leaf")
                cpus = f", cpu {cpu:.2f} s" if cpu is not None else ""
                cpus += f" (sys {kernel:.2f})" if kernel is not None and not peer else ""
                cells.append(f"{s['median_s']:.3f} s{cpus}, {s['peak_rss_mb']:.0f} MB{codes}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    def ratio(v: dict[str, Any], ours: str, peer: str, what: str = "median_s") -> str:
        a, b = v.get(ours, {}), v.get(peer, {})
        return f"{a[what] / b[what]:.2f}x" if a.get(what) and b.get(what) else "n/a"

    for ours, peer, label in (
            ("cold_no_cache", "kustomize", "cold compile / kustomize summed"),
            ("cold_no_cache", "helm", "cold compile / helm summed"),
            ("check_cold", "helm", "cold --check --no-cache / helm summed"),
            ("leaf_stdout", "helm_leaf", "one leaf --stdout / helm of that leaf")):
        cells = [f"wall {ratio(v, ours, peer)}, cpu {ratio(v, ours, peer, 'median_cpu_s')}"
                 if peer != "kustomize" else ratio(v, ours, peer) for v in sizes.values()]
        lines.append(f"| {label} (below 1 is faster) | " + " | ".join(cells) + " |")
    for ours, label in (("one_flow_first", "first edit after cold / cold"),
                        ("one_flow_change", "one flow changed / cold"),
                        ("watch_edit", "one flow changed in --watch / cold"),
                        ("watch_compile", "its compile's own time in --watch / cold")):
        lines.append(f"| {label} (target 0.1) | " + " | ".join(
            ratio(v, ours, "cold_no_cache") + (f", cpu {ratio(v, ours, 'cold_no_cache', 'median_cpu_s')}"
                                               if ours == "watch_edit" else "")
            for v in sizes.values()) + " |")
    lines.append("| diff / one-flow recompile | " + " | ".join(
        ratio(v, "diff", "one_flow_change") for v in sizes.values()) + " |")
    m = doc["machine"]
    lines += ["", f"Machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}, "
              f"{m['kustomize']}, helm {m['helm']}, load average at start "
              f"{m['loadavg_at_start']}. Medians of {doc['runs']} runs (kustomize: 1 run above "
              "2000 objects)."]
    if doc.get("slope"):
        s = doc["slope"]
        lines.append(f"Cold compile time vs size (least squares): {s['ms_per_1k_objects']} ms "
                     f"per 1000 objects, intercept {s['intercept_s']} s.")
    notes = sorted({v[k]["note"] for v in sizes.values() for k, _ in _ROWS
                    if v[k].get("skipped") and v[k].get("note")})
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated object counts")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="smallest size only, one run each")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kustomize-max", type=int, default=10000,
                    help="skip kustomize above this many objects")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    ap.add_argument("--workdir", type=Path, help="where workspaces are generated (default: temp)")
    args = ap.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        ap.error("--sizes takes integers, e.g. 1000,10000")
    if not sizes or min(sizes) < 1 or args.runs < 1:
        ap.error("sizes and --runs must be positive")
    if args.smoke:
        sizes, args.runs = sizes[:1], 1
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mentat-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"machine": _machine(), "runs": args.runs, "seed": args.seed,
                           "sizes": {}}
    try:
        for size in sizes:
            doc["sizes"][str(size)] = _bench_size(size, args, work)
    finally:
        shutil.rmtree(work / "trash", ignore_errors=True)  # see _wipe
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    doc["slope"] = _slope(doc["sizes"], "cold_no_cache")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    table = _markdown(doc)
    (args.out / "results.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
