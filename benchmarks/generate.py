"""A seeded, deterministic synthetic workspace: N agents, M flows, K environments × regions.

The same (--objects, --seed) always writes the same bytes. Flows are added until the
compiled workspace renders at least --objects Kubernetes objects (counted by the same
formula the k8s renderer follows, checked by the test that compiles a generated workspace).

    python benchmarks/generate.py --objects 10000 --out /tmp/ws10k --seed 1
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from compiler.resources import policies_dir

__all__ = ["Plan", "generate", "main", "plan"]

# (environment, namespace, regions): 4 leaf directories, like a small multi-region product.
ENVIRONMENTS = (
    ("staging", "bench-staging", ("eu-west-1",)),
    ("prod", "bench-prod", ("us-east-1", "eu-west-1", "ap-southeast-1")),
)
AGENTS_PER_FILE = 6
FLOWS_PER_DIR = 50


@dataclass(frozen=True, slots=True)
class _Flow:
    name: str
    mode: str  # service | stream | job
    nodes: tuple[tuple[str, str], ...]  # (node id, agent reference)
    environments: tuple[str, ...] | None
    regions: tuple[str, ...] | None
    prod_replicas: dict[str, int]
    schedule: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    agents: int
    flows: tuple[_Flow, ...]
    objects: int  # Kubernetes objects the compile renders (CRDs and namespaces included)


def _leaves(f: _Flow) -> int:
    n = 0
    for env, _, regions in ENVIRONMENTS:
        if f.environments and env not in f.environments:
            continue
        n += sum(1 for r in regions if not f.regions or r in f.regions)
    return n


def _objects_per_leaf(f: _Flow) -> int:
    n = len(f.nodes)
    if f.mode == "job":  # ServiceAccount, ConfigMap, default deny; CronJob + egress per node
        return 3 + 2 * n
    return 3 + 3 * n + (n - 1)  # + Deployment, Service, egress per node; one rule per edge


def _agent_name(i: int) -> str:
    return f"agent-{i:05d}"


# Per leaf with flows: the Namespace and the OpenTelemetry Collector (ServiceAccount, Role,
# RoleBinding, NetworkPolicy, ConfigMap, Deployment, Service).
PER_LEAF = 1 + 7


def _admission_objects() -> int:
    """A ValidatingAdmissionPolicy and its binding per enforced rule of the default set."""
    rules = 0
    for path in sorted(policies_dir().glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("spec", {}).get("enforce"):
                rules += 1
    return 2 * rules


def plan(objects: int, seed: int) -> Plan:
    rng = random.Random(seed)
    leaves = sum(len(r) for _, _, r in ENVIRONMENTS)
    fixed = 2 + leaves * PER_LEAF + _admission_objects()  # + the Agent and Flow CRDs
    agents = max(12, objects // 40) // 2 * 2
    flows: list[_Flow] = []
    total = fixed
    while total < objects:
        i = len(flows)
        mode = rng.choices(("service", "stream", "job"), weights=(6, 2, 2))[0]
        length = rng.randint(2, 6)
        nodes = []
        for k in range(length):
            role = "src" if k == 0 else "mid"
            # Even agent indexes produce (no inputs), odd ones transform.
            a = 2 * rng.randrange(agents // 2) + (k > 0)
            ref = f"{_agent_name(a)}@{rng.choice(('^1.0', '~1', '1.0.0', '>=1.0 <2'))}"
            nodes.append((f"n{k}-{role}", ref))
        envs = rng.choice((None, None, None, ("prod",), ("staging",)))
        regions = ("us-east-1", "eu-west-1") if envs == ("prod",) and rng.random() < 0.3 else None
        f = _Flow(
            name=f"flow-{i:05d}",
            mode=mode,
            nodes=tuple(nodes),
            environments=envs,
            regions=regions,
            # the default policy set wants service and stream nodes at >= 2 replicas in prod
            prod_replicas=({n: rng.randint(2, 4) for n, _ in nodes} if mode != "job"
                           else {nodes[-1][0]: rng.randint(2, 4)} if rng.random() < 0.5 else {}),
            schedule=f"{rng.randrange(60)} * * * *" if mode == "job" else None,
        )
        flows.append(f)
        total += _leaves(f) * _objects_per_leaf(f)
    return Plan(agents=agents, flows=tuple(flows), objects=total)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _workspace(name: str) -> str:
    envs = "\n".join(
        f"    - {{name: {e}, namespace: {ns}, regions: [{', '.join(r)}]}}"
        for e, ns, r in ENVIRONMENTS
    )
    return f"""# Synthetic benchmark workspace (benchmarks/generate.py); do not edit by hand.
apiVersion: mentatlab.io/v1
kind: Workspace
metadata:
  name: {name}
spec:
  sources: [flows/]
  output: rendered/
  kubernetesVersion: "1.31"
  registries: [ghcr.io/bench]
  environments:
{envs}
  storage: {{endpoint: "http://minio.bench-system:9000", bucket: bench-media, secretRef: minio-creds}}
  telemetry:
    endpoint: "http://otel-backend.observability:4317"
    collectorImage: ghcr.io/bench/otel-collector-contrib@sha256:{"c" * 64}
    sampling: {{ratio: 0.1, keepErrors: true, slowerThanMs: 2000}}
  pricing: {{cpuHour: 0.031, memoryGiBHour: 0.004, gpuHour: 2.50}}
"""


def _agent(i: int, version: str, rng: random.Random) -> str:
    name = _agent_name(i)
    producer = i % 2 == 0
    # Every agent streams its output so that it fits both service and stream flows; a
    # text pin is never media, so job flows need storage only for passing pins.
    inputs = "[]" if producer else "\n    - {name: in, type: text, stream: true}"
    outputs = "\n    - {name: out, type: text, stream: true}"
    cpu = rng.choice(("100m", "250m", "500m", "1"))
    mem = rng.choice(("64Mi", "128Mi", "256Mi", "1Gi"))
    secrets = ""
    if rng.random() < 0.4:
        secrets = "\n  secrets:\n    - {name: API_KEY, secretRef: {name: " + name + "-keys, key: api}}"
    egress = ""
    if rng.random() < 0.3:
        egress = ("\n  egress:\n    - {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12], "
                  "ports: [443]}")
    return f"""# Synthetic agent {i} ({'producer' if producer else 'transformer'}).
apiVersion: mentatlab.io/v1
kind: Agent
metadata:
  name: {name}
  version: {version}
  labels:
    team: team-{i % 7}
spec:
  runtime: container
  image: ghcr.io/bench/{name}@sha256:{_digest(name + version)}{egress}
  inputs: {inputs}
  outputs: {outputs}
  resources: {{cpu: {cpu}, memory: {mem}}}
  env:
    - {{name: LOG_LEVEL, value: info}}
    - {{name: WORKERS, value: "{rng.randint(1, 8)}"}}{secrets}
"""


def _flow(f: _Flow, rng: random.Random) -> str:
    lines = [
        f"# Synthetic flow {f.name}.",
        "apiVersion: mentatlab.io/v1",
        "kind: Flow",
        "metadata:",
        f"  name: {f.name}",
        f"  version: 1.{rng.randint(0, 9)}.0",
        f"  labels: {{owner: team-{rng.randrange(7)}, cost-center: cc-{rng.randint(1000, 1099)}}}",
        "spec:",
        f"  mode: {f.mode}",
    ]
    if f.schedule:
        lines.append(f'  schedule: "{f.schedule}"')
        lines.append(f"  expectedDurationSeconds: {rng.randint(30, 900)}")
    if f.environments:
        lines.append(f"  environments: [{', '.join(f.environments)}]")
    if f.regions:
        lines.append(f"  regions: [{', '.join(f.regions)}]")
    lines.append("  nodes:")
    for node_id, ref in f.nodes:
        ref_text = f'"{ref}"' if " " in ref else ref
        lines.append(f"    - {{id: {node_id}, agent: {ref_text}, replicas: {rng.randint(1, 2)}}}")
    lines.append("  edges:")
    for (a, _), (b, _) in zip(f.nodes, f.nodes[1:], strict=False):
        lines.append(f"    - {{from: {a}.out, to: {b}.in}}")
    if f.prod_replicas and (not f.environments or "prod" in f.environments):
        pinned = ", ".join(f"{node}: {{replicas: {n}}}" for node, n in f.prod_replicas.items())
        lines.append(f"  overrides:\n    prod: {{nodes: {{{pinned}}}}}")
    return "\n".join(lines) + "\n"


def generate(objects: int, out: Path, seed: int = 1) -> Plan:
    """Write the workspace into `out` (replacing it) and return what was generated."""
    p = plan(objects, seed)
    rng = random.Random(seed * 7919 + objects)
    if out.exists():
        shutil.rmtree(out)
    (out / "flows" / "agents").mkdir(parents=True)
    (out / "mentat.yaml").write_text(_workspace(f"bench-{objects}"))
    for start in range(0, p.agents, AGENTS_PER_FILE):
        docs = []
        for i in range(start, min(start + AGENTS_PER_FILE, p.agents)):
            docs.append(_agent(i, "1.0.0", rng))
            if i % 3 == 0:  # a second version: ranges must pick the highest match
                docs.append(_agent(i, "1.1.0", rng))
        name = f"agents-{start // AGENTS_PER_FILE:04d}.yaml"
        (out / "flows" / "agents" / name).write_text("---\n".join(docs))
    for i, f in enumerate(p.flows):
        d = out / "flows" / f"group-{i // FLOWS_PER_DIR:03d}"
        d.mkdir(exist_ok=True)
        (d / f"{f.name}.yaml").write_text(_flow(f, rng))
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--objects", type=int, default=1000, help="rendered objects to aim for")
    ap.add_argument("--out", type=Path, required=True, help="directory to (re)create")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.objects < 1:
        ap.error("--objects must be positive")
    p = generate(args.objects, args.out, args.seed)
    print(f"{args.out}: {p.agents} agents, {len(p.flows)} flows, {p.objects} objects",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
