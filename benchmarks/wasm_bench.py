"""Benchmark (not a test): cold start of a bundled wasm agent, and 1000 live instances.

    /work/venv/bin/python benchmarks/wasm_bench.py [--runs 1000] [--instances 1000] [--json]

Cold start = what a worker does for one request from the bundle on disk: read and verify the
OCI layout (every blob's sha256), deserialize the precompiled module (checking its labels and
its imports against the bundle's capabilities), instantiate it in a fresh sandboxed store and
make the first call (`_start` with the input pins on stdin, the output pins parsed from
stdout). Reported as median and p99 over `--runs`, per phase and in total.

Instances = `--instances` stores, each with its own WASI context, limits and an instance of
the module, all alive at once: creation time and resident memory added (VmRSS delta).

Targets (issue 6): cold start <= 1 ms median and <= 5 ms p99; 1000 instances <= 100 ms and
<= 64 MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import wasmtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.load import load  # noqa: E402
from compiler.model import Pin  # noqa: E402
from compiler.validate import validate  # noqa: E402
from compiler.wasm.bundle import (  # noqa: E402
    build_bundle,
    module_from_bundle,
    open_bundle,
    read_bundle_dir,
)
from compiler.wasm.run import Runner  # noqa: E402
from compiler.wasm.sandbox import Limits  # noqa: E402
from compiler.wasm.stage import check_agent_module  # noqa: E402

AGENT = "uppercase"
INPUTS = {"text": "the quick brown fox jumps over the lazy dog"}
LIMITS = Limits(fuel=10_000_000, memory_bytes=16 * 2**20, timeout_ms=1_000)


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _write_bundle(dest: Path) -> tuple[Path, tuple[Pin, ...]]:
    agent = next(a for a in validate(load(ROOT)).agents if a.name == AGENT)
    checked, diags = check_agent_module(ROOT, agent)
    assert checked is not None, diags
    bundle = build_bundle(agent, checked, precompile=True)
    for rel, data in bundle.files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
    return dest, agent.outputs


def cold_start(bundle_dir: Path, outputs: tuple[Pin, ...], runs: int) -> dict[str, object]:
    runner = Runner()
    phases: dict[str, list[float]] = {"open": [], "deserialize": [], "run": [], "total": []}
    used = 0
    for _ in range(runs + 20):  # the first 20 warm the page cache and allocator
        t0 = time.perf_counter_ns()
        opened = open_bundle(read_bundle_dir(bundle_dir))
        t1 = time.perf_counter_ns()
        module, pre = module_from_bundle(opened, runner.engine)
        t2 = time.perf_counter_ns()
        result = runner.run(module, INPUTS, outputs=outputs, limits=LIMITS)
        t3 = time.perf_counter_ns()
        assert result.ok and result.outputs == {"upper": INPUTS["text"].upper()}, result
        used += pre
        for name, ns in (("open", t1 - t0), ("deserialize", t2 - t1), ("run", t3 - t2),
                         ("total", t3 - t0)):
            phases[name].append(ns / 1e6)
    out: dict[str, object] = {"runs": runs, "precompiled_used": used == runs + 20}
    for name, values in phases.items():
        values = values[20:]
        out[name] = {"median_ms": round(statistics.median(values), 4),
                     "p99_ms": round(_pct(values, 99), 4)}
    return out


def instances(bundle_dir: Path, count: int) -> dict[str, object]:
    runner = Runner()
    module, _ = module_from_bundle(open_bundle(read_bundle_dir(bundle_dir)), runner.engine)
    pre = runner.instantiate_pre(module)
    gc.collect()
    gc.disable()
    rss0 = _rss()
    t0 = time.perf_counter_ns()
    live = []
    for _ in range(count):
        store = wasmtime.Store(runner.engine)
        store.set_fuel(LIMITS.fuel)
        store.set_limits(memory_size=LIMITS.memory_bytes, instances=1, memories=1)
        store.set_epoch_deadline(1_000_000)
        store.set_wasi(wasmtime.WasiConfig())
        live.append((store, pre.instantiate(store)))
    t1 = time.perf_counter_ns()
    rss1 = _rss()
    gc.enable()
    return {
        "instances": len(live),
        "create_ms": round((t1 - t0) / 1e6, 2),
        "per_instance_us": round((t1 - t0) / 1e3 / count, 2),
        "rss_added_mb": round((rss1 - rss0) / 2**20, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bundle_dir, outputs = _write_bundle(Path(tmp))
        report = {
            "agent": AGENT,
            "wasmtime": version("wasmtime"),
            "cpus": os.cpu_count(),
            "cold_start": cold_start(bundle_dir, outputs, args.runs),
            "concurrent": instances(bundle_dir, args.instances),
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    cs, inst = report["cold_start"], report["concurrent"]
    assert isinstance(cs, dict) and isinstance(inst, dict)
    print(f"wasmtime {report['wasmtime']}, {report['cpus']} cpus, agent {AGENT}")
    print(f"cold start from bundle on disk, {cs['runs']} runs "
          f"(precompiled artifact used: {cs['precompiled_used']}):")
    for name in ("open", "deserialize", "run", "total"):
        v = cs[name]
        print(f"  {name:12} median {v['median_ms']:.3f} ms   p99 {v['p99_ms']:.3f} ms")
    print(f"{inst['instances']} live instances: created in {inst['create_ms']} ms "
          f"({inst['per_instance_us']} us each), +{inst['rss_added_mb']} MB RSS")


if __name__ == "__main__":
    main()
