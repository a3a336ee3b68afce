"""`mentatctl apply` against `kubectl apply --server-side` on one real control plane (testenv).

For each size: a generated workspace (benchmarks/generate.py) is compiled and signed; its
largest ENV/REGION leaf, with the cluster-wide CRDs and admission policies, is applied by
both tools: first apply, no-op re-apply, and a re-apply after one flow changed. kubectl gets
the same manifests with the namespace renamed (its own copy of every namespaced object) as
a flat directory (no kustomize). Then a field is changed live by another manager and
`mentatctl apply --force-conflicts` must find and restore it. No pods are run (no nodes):
both tools are measured on the API work, and mentatctl with --no-wait.

    python -m benchmarks.controller_bench --sizes 1000,10000
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.generate import generate  # noqa: E402
from testenv import ControlPlane, binary  # noqa: E402


def _mentat(*args: str) -> list[str]:
    return [sys.executable, "-m", "compiler.cli", *args]


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... failed ({done.returncode}):\n{done.stderr[-2000:]}"
                         f"{done.stdout[-3000:]}")
    return elapsed, done


def _leaf(rendered: Path) -> tuple[str, str, int]:
    counts = {}
    for d in rendered.glob("*/*"):
        if d.is_dir() and (d / "kustomization.yaml").is_file() and d.parent.name not in ("bundles",):
            counts[(d.parent.name, d.name)] = sum(1 for _ in d.glob("*.yaml")) - 1
    (env, region), n = max(counts.items(), key=lambda kv: kv[1])
    return env, region, n


def _kubectl_copy(rendered: Path, env: str, region: str, out: Path, namespace: str) -> int:
    """The target's manifests as one flat directory, its namespace renamed for kubectl."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    n = 0
    for sub in ("policies", f"{env}/{region}"):  # CRDs are cluster-wide: mentatctl alone applies them
        for f in sorted((rendered / sub).glob("*.yaml")):
            if f.name == "kustomization.yaml":
                continue
            text = f.read_text()
            if sub.startswith(env):
                text = re.sub(rf"\b{re.escape(namespace)}\b", namespace + "-k", text)
            else:  # admission policies and bindings: kubectl's own copies, not shared fields
                text = re.sub(r"(name|policyName): (mentatlab-\S+)", r"\1: \2-k", text)
            # kubectl applies the files of a directory in name order: definitions and the
            # namespace first, as mentatctl orders them
            rank = {"crds": 0, "policies": 9}.get(sub, 1 if f.name.startswith("namespace-") else 2)
            (out / f"{rank}-{sub.replace('/', '-')}-{f.name}").write_text(text)
            n += 1
    return n


def bench(size: int, work: Path, plane: ControlPlane) -> dict[str, Any]:
    ws = work / f"ws-{size}"
    plan = generate(size * 4, ws)  # four leaves: the largest holds about a quarter
    _timed(_mentat("compile", str(ws)), REPO)
    pki = work / "pki"
    if not pki.exists():
        _timed(_mentat("pki", "init", str(pki)), REPO)
    rendered = ws / "rendered"
    _timed(_mentat("sign", str(rendered), "--pki", str(pki)), REPO)
    env, region, leaf_objects = _leaf(rendered)
    namespace = next(line.split(":", 1)[1].strip() for line in
                     (rendered / env / region / f"namespace-bench-{env}.yaml").read_text().splitlines()
                     if line.startswith("  name:"))
    kube = str(binary("kubectl"))
    kc = str(plane.kubeconfig)
    apply = _mentat("apply", str(rendered), "--env", env, "--region", region,
                    "--trust", str(pki / "root.pem"), "--kubeconfig", kc, "--no-wait",
                    "--audit-log", str(work / f"audit-{size}.jsonl"),
                    "--attestation-out", str(work / f"att-{size}.json"), "--sign-pki", str(pki), "-o", "json")
    flat = work / f"kubectl-{size}"
    files = _kubectl_copy(rendered, env, region, flat, namespace)
    kubectl = [kube, "--kubeconfig", kc, "apply", "--server-side", "--field-manager", "kubectl-bench", "-f",
               str(flat)]
    res: dict[str, Any] = {"workspace_objects": plan.objects, "target": f"{env}/{region}",
                           "objects": files, "leaf_objects": leaf_objects}
    res["kubectl_first"], _ = _timed(kubectl, REPO)
    res["mentat_first"], _ = _timed(apply, REPO)
    res["kubectl_noop"], _ = _timed(kubectl, REPO)
    secs, done = _timed(apply, REPO)
    res["mentat_noop"], res["mentat_noop_plan"] = secs, json.loads(done.stdout)["plan"]["counts"]

    # a flow that runs in the target: the one of its first Deployment
    first = sorted((rendered / env / region).glob("deployment-*.yaml"))[0].read_text()
    name = re.search(r"mentatlab.io/flow: (\S+)", first).group(1)  # type: ignore[union-attr]
    flow = next(f for f in sorted((ws / "flows").glob("group-*/flow-*.yaml"))
                if re.search(rf"name: {re.escape(name)}\b", f.read_text()))
    edited = re.sub(r"owner: team-\d+", "owner: bench-edit", flow.read_text())
    assert edited != flow.read_text(), f"no owner label to change in {flow}"
    flow.write_text(edited)
    _timed(_mentat("compile", str(ws)), REPO)
    _timed(_mentat("sign", str(rendered), "--pki", str(pki)), REPO)
    _kubectl_copy(rendered, env, region, flat, namespace)
    res["kubectl_one_flow"], _ = _timed(kubectl, REPO)
    secs, done = _timed(apply, REPO)
    res["mentat_one_flow"], res["mentat_one_flow_plan"] = secs, json.loads(done.stdout)["plan"]["counts"]

    # drift: someone else changes a field; the no-op path must still find and restore it
    cm = next(f for f in sorted((rendered / env / region).glob("configmap-*.yaml")))
    name = cm.stem.removeprefix("configmap-")
    subprocess.run([kube, "--kubeconfig", kc, "-n", namespace, "patch", "configmap", name, "--type", "merge",
                    "-p", json.dumps({"data": {"graph.json": "{}"}})], check=True, capture_output=True)
    secs, done = _timed([*apply, "--force-conflicts"], REPO)
    got = subprocess.run([kube, "--kubeconfig", kc, "-n", namespace, "get", "configmap", name, "-o",
                          "jsonpath={.data.graph\\.json}"], check=True, capture_output=True, text=True).stdout
    res["mentat_drift"] = secs
    res["drift_plan"] = json.loads(done.stdout)["plan"]["counts"]
    res["drift_restored"] = got != "{}"
    res["noop_ratio"] = round(res["mentat_noop"] / res["kubectl_noop"], 3)
    res["first_ratio"] = round(res["mentat_first"] / res["kubectl_first"], 3)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000", help="objects in the applied target, comma-separated")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "controller.json")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mentat-controller-bench-"))
    results: dict[str, Any] = {}
    # testenv's service range (/24) holds 254 ClusterIPs; two copies of a 10k target need more
    wide = {"kube-apiserver": ["--service-cluster-ip-range", "10.96.0.0/16"]}
    with ControlPlane(with_nodes=False, extra_args=wide) as plane:
        for size in (int(s) for s in args.sizes.split(",")):
            print(f"== {size}", file=sys.stderr)
            results[str(size)] = bench(size, work, plane)
            print(json.dumps(results[str(size)], indent=2), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
