"""`mentatctl apply` against `kubectl apply --server-side` on one real control plane (testenv).

For each size: a generated workspace (benchmarks/generate.py) is compiled and signed; its
largest ENV/REGION leaf, with the cluster-wide CRDs and admission policies, is applied by
both tools: first apply, no-op re-apply, and a re-apply after one flow changed. kubectl gets
the same manifests with the namespace renamed (its own copy of every namespaced object) as
a flat directory (no kustomize); `kubectl apply --server-side --prune --applyset` gets a third
copy (its own namespace and policy names). mentatctl's no-op is measured twice: with the
snapshot of what it applied last (.mentat/applied/, as a controller or a CI runner with a
cache has it) and without (a fresh checkout: every file parsed and compared). Then a field is
changed live by another manager (`kubectl patch`) and a plain `mentatctl apply` must find and
restore it. No pods are run (no nodes): every tool is measured on the API work, and mentatctl
with --no-wait.

    python -m benchmarks.controller_bench --sizes 1000,10000
    python -m benchmarks.controller_bench --sizes 1000 --kubeconfig KC   # an existing control plane
"""

from __future__ import annotations

import argparse
import json
import os
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


def _timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None
           ) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})
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


def _kubectl_copy(rendered: Path, env: str, region: str, out: Path, namespace: str,
                  suffix: str = "-k") -> int:
    """The target's manifests as one flat directory, its namespace renamed for kubectl. The
    admission policies are renamed too and their bindings select the renamed namespace (and
    no longer the original), so each copy's objects pass exactly as many policies as
    mentatctl's: the CEL evaluation is a large share of the apiserver's work per object."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    n = 0
    for sub in ("policies", f"{env}/{region}"):  # CRDs are cluster-wide: mentatctl alone applies them
        for f in sorted((rendered / sub).glob("*.yaml")):
            if f.name == "kustomization.yaml":
                continue
            text = f.read_text()
            text = re.sub(rf"\b{re.escape(namespace)}\b", namespace + suffix, text)
            if not sub.startswith(env):  # admission policies and bindings: the copy's own
                text = re.sub(r"(name|policyName): (mentatlab-\S+)", rf"\1: \2{suffix}", text)
            # kubectl applies the files of a directory in name order: definitions and the
            # namespace first, as mentatctl orders them
            rank = {"crds": 0, "policies": 9}.get(sub, 1 if f.name.startswith("namespace-") else 2)
            (out / f"{rank}-{sub.replace('/', '-')}-{f.name}").write_text(text)
            n += 1
    return n


def bench(size: int, work: Path, kubeconfig: Path) -> dict[str, Any]:
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
    kc = str(kubeconfig)
    apply = _mentat("apply", str(rendered), "--env", env, "--region", region,
                    "--trust", str(pki / "root.pem"), "--kubeconfig", kc, "--no-wait",
                    "--audit-log", str(work / f"audit-{size}.jsonl"),
                    "--attestation-out", str(work / f"att-{size}.json"), "--sign-pki", str(pki), "-o", "json")
    flat, flat_set = work / f"kubectl-{size}", work / f"applyset-{size}"
    files = _kubectl_copy(rendered, env, region, flat, namespace)
    _kubectl_copy(rendered, env, region, flat_set, namespace, "-a")
    kubectl = [kube, "--kubeconfig", kc, "apply", "--server-side", "--field-manager", "kubectl-bench", "-f",
               str(flat)]
    # kubectl's ApplySet (alpha): its parent Secret lives in the copy's namespace, made first
    subprocess.run([kube, "--kubeconfig", kc, "create", "namespace", namespace + "-a"], check=True,
                   capture_output=True)
    applyset = [kube, "--kubeconfig", kc, "apply", "--server-side", "--field-manager", "kubectl-applyset",
                "--prune", "--applyset", f"mentat-bench-{size}", "-n", namespace + "-a", "-f", str(flat_set)]
    alpha = {"KUBECTL_APPLYSET": "true"}
    snapshots = ws / ".mentat" / "applied"
    res: dict[str, Any] = {"workspace_objects": plan.objects, "target": f"{env}/{region}",
                           "objects": files, "leaf_objects": leaf_objects}

    def mentat(label: str) -> None:
        res[f"mentat_{label}"], done = _timed(apply, REPO)
        res[f"mentat_{label}_plan"] = json.loads(done.stdout)["plan"]["counts"]

    def peers(label: str) -> None:
        res[f"kubectl_{label}"], _ = _timed(kubectl, REPO)
        res[f"applyset_{label}"], _ = _timed(applyset, REPO, alpha)

    # The 2 CRDs exist before any timed step (a cluster's CRDs are installed once): creating
    # them makes the apiserver rebuild its OpenAPI and discovery, a cost only the tool that
    # applies them would pay (mentatctl, whose tree holds them; the copies leave them out).
    crds = [arg for f in sorted((rendered / "crds").glob("customresourcedefinition-*.yaml"))
            for arg in ("-f", str(f))]
    subprocess.run([kube, "--kubeconfig", kc, "apply", "--server-side", "--field-manager", "bench-setup",
                    *crds], check=True, capture_output=True)
    subprocess.run([kube, "--kubeconfig", kc, "wait", "--for", "condition=Established", "--timeout", "120s",
                    *crds], check=True, capture_output=True)
    peers("first")
    mentat("first")
    peers("noop")
    mentat("noop")
    shutil.rmtree(snapshots)  # a fresh checkout: nothing to skip, every file parsed and compared
    mentat("noop_no_snapshot")
    mentat("noop")  # the snapshot again, as the run before wrote it

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
    _kubectl_copy(rendered, env, region, flat_set, namespace, "-a")
    peers("one_flow")
    mentat("one_flow")

    # drift: someone else changes a field; the no-op path must still find and restore it
    cm = next(f for f in sorted((rendered / env / region).glob("configmap-*.yaml")))
    name = cm.stem.removeprefix("configmap-")
    subprocess.run([kube, "--kubeconfig", kc, "-n", namespace, "patch", "configmap", name, "--type", "merge",
                    "-p", json.dumps({"data": {"graph.json": "{}"}})], check=True, capture_output=True)
    secs, done = _timed(apply, REPO)
    got = subprocess.run([kube, "--kubeconfig", kc, "-n", namespace, "get", "configmap", name, "-o",
                          "jsonpath={.data.graph\\.json}"], check=True, capture_output=True, text=True).stdout
    res["mentat_drift"] = secs
    res["drift_plan"] = json.loads(done.stdout)["plan"]["counts"]
    res["drift_restored"] = got != "{}" and bool(json.loads(done.stdout)["restored"])
    for label in ("first", "noop", "noop_no_snapshot", "one_flow"):
        peer = res["kubectl_" + label.replace("_no_snapshot", "")]
        res[f"{label}_ratio"] = round(res[f"mentat_{label}"] / peer, 3)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000", help="objects in the applied target, comma-separated")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "controller.json")
    ap.add_argument("--kubeconfig", type=Path, help="use this control plane instead of starting one "
                    "(its service range must hold three copies' ClusterIPs)")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mentat-controller-bench-"))
    results: dict[str, Any] = {}

    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        print(f"== {size}", file=sys.stderr)
        if args.kubeconfig:
            results[str(size)] = bench(size, work, args.kubeconfig)
        else:
            # a control plane per size: the sizes' workspaces share namespace names, and a
            # first apply must find nothing. testenv's service range (/24) holds 254
            # ClusterIPs; three copies of a 10k target need more.
            wide = {"kube-apiserver": ["--service-cluster-ip-range", "10.96.0.0/16"]}
            with ControlPlane(with_nodes=False, extra_args=wide) as plane:
                results[str(size)] = bench(size, work, plane.kubeconfig)
        print(json.dumps(results[str(size)], indent=2), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
