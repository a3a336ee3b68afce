"""Builders for the controller's cluster tests: signed rendered trees with a few objects in
a namespace of the test's own, and `mentatctl apply` run as a real process."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compiler.sign import pki as pki_mod
from compiler.sign.signer import sign_pki, write_signature
from compiler.sign.statement import BuildContext
from tests.unit.sign.signkit import write_tree

ENV, REGION = "staging", "r1"
REPO = Path(__file__).resolve().parents[2]


def namespace_for(name: str) -> str:
    return "t-" + hashlib.sha256(name.encode()).hexdigest()[:10]


def configmap(ns: str, name: str, data: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": dict(data or {"k": "v"})}


def namespace(ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"mentatlab.io/environment": ENV}}}


def crd(group: str, kind: str, served: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """A namespaced CustomResourceDefinition of `kind` in `group` taking any fields, with
    `served` versions (default: v1 alone); v1 is the storage version."""
    plural = kind.lower() + "s"
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                           "listKind": f"{kind}List"},
                 "versions": [{"name": v, "served": on, "storage": v == "v1", "schema": schema}
                              for v, on in (served or {"v1": True}).items()]},
    }


def deployment(ns: str, name: str, *, replicas: int = 1, node_selector: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]}
    if node_selector:
        pod["nodeSelector"] = dict(node_selector)
    else:  # kwok's fake nodes carry this taint; their pods become Ready
        pod["tolerations"] = [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}


def file_name(obj: Mapping[str, Any]) -> str:
    return f"{ENV}/{REGION}/{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


@dataclass
class Kit:
    """One test's world: its namespace, its workspace name (so its own inventory), a PKI."""

    tmp: Path
    pki: Path
    workspace: str
    kubeconfig: Path

    @property
    def ns(self) -> str:
        return namespace_for(self.workspace)

    @property
    def root(self) -> Path:
        return self.pki / "root.pem"

    def tree(self, objs: list[Mapping[str, Any]], *, sign: bool = True, name: str = "rendered") -> Path:
        out = self.tmp / name
        if out.exists():
            import shutil

            shutil.rmtree(out)
        out.mkdir(parents=True)
        files = {file_name(o): yaml.safe_dump(dict(o), sort_keys=True).encode() for o in objs}
        write_tree(out, files, workspace=self.workspace)
        if sign:
            now = dt.datetime.now(dt.UTC)
            result = sign_pki(out, pki_mod.load_pki(self.pki), BuildContext(commit="a" * 40), now=now)
            assert result.diagnostics == [], result.diagnostics
            assert write_signature(out, result.bundle) is None
        return out

    def command(self, tree: Path, *args: str, kubeconfig: Path | None = None, env: str = ENV) -> list[str]:
        return [sys.executable, "-m", "compiler.cli", "apply", str(tree), "--env", env, "--region", REGION,
               "--trust", str(self.root), "--kubeconfig", str(kubeconfig or self.kubeconfig),
               "--audit-log", str(self.tmp / "audit.jsonl"), "--attestation-out", str(self.tmp / "att.json"),
               "--sign-pki", str(self.pki), "--timeout", "60s", "-o", "json", *args]

    def apply(self, tree: Path, *args: str, kubeconfig: Path | None = None, env: str = ENV,
              timeout: float = 240) -> tuple[int, dict[str, Any], str]:
        """`mentatctl apply -o json` as a process: (exit code, its JSON, stderr)."""
        cmd = self.command(tree, *args, kubeconfig=kubeconfig, env=env)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.tmp, check=False)
        try:
            data = json.loads(done.stdout) if done.stdout.strip() else {}
        except json.JSONDecodeError:
            data = {"raw": done.stdout}
        return done.returncode, data, done.stderr


    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The live object via kubectl, or None."""
        ns = ["-n", namespace or self.ns] if kind.lower() not in ("namespace", "ns") else []
        done = subprocess.run([kubectl(), "--kubeconfig", str(self.kubeconfig), "get", kind, name, *ns,
                               "-o", "json", "--ignore-not-found"],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout) if done.stdout.strip() else None

    def kubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([kubectl(), "--kubeconfig", str(self.kubeconfig), *args], input=input,
                              capture_output=True, text=True, check=True)

    def inventory(self, inventory_id: str) -> list[str]:
        """`KIND/NAME` of every object the inventory record holds."""
        record = self.get("configmap", f"mentat-inventory-{inventory_id}", "mentat-system")
        assert record is not None
        return sorted(f"{o[2]}/{o[4]}" for o in json.loads(record["data"]["inventory.json"])["objects"])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(*args, cwd=self.tmp)


def kubectl() -> str:
    from testenv import binary

    return str(binary("kubectl"))


def make_pki(directory: Path) -> Path:
    pki_mod.init_pki(directory, now=dt.datetime.now(dt.UTC), org="Test", domain="test.example", signer="ci")
    return directory


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, check=False)
