"""Shared helpers of the cluster tests: the example's rendered objects and server-side apply
through the pinned kubectl."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from testenv import ControlPlane

REPO = Path(__file__).resolve().parents[2]
RENDERED = REPO / "rendered"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def leaf_objects(leaf: Path) -> list[dict[str, Any]]:
    """The Kubernetes objects of one rendered directory (its kustomization.yaml excluded)."""
    out: list[dict[str, Any]] = []
    for p in sorted(leaf.glob("*.yaml")):
        if p.name != "kustomization.yaml":
            out += documents(p)
    return out


def leaves() -> list[Path]:
    """rendered/<env>/<region>/ directories (not argocd/bootstrap: Argo CD's own objects)."""
    return sorted(p.parent for p in RENDERED.glob("*/*/kustomization.yaml")
                  if p.parent.parent.parent == RENDERED and p.parent.parent.name != "argocd")


def stream(objects: Iterable[dict[str, Any]]) -> str:
    return "".join(f"---\n{json.dumps(o)}\n" for o in objects)


def apply(cluster: ControlPlane, objects: Iterable[dict[str, Any]], *, dry_run: bool = False,
          check: bool = True):
    args = ["apply", "--server-side", "--field-manager", "mentatctl-tests", "-o", "name",
            "-f", "-"]
    if dry_run:
        args.append("--dry-run=server")
    return cluster.kubectl(*args, input=stream(objects), check=check)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def install_crds(cluster: ControlPlane) -> list[str]:
    """Apply rendered/crds for real and wait until every CRD is Established."""
    crds = leaf_objects(RENDERED / "crds")
    apply(cluster, crds)
    names = [c["metadata"]["name"] for c in crds]
    for name in names:
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                        f"customresourcedefinition/{name}")
    return names


def ensure_namespaces(cluster: ControlPlane) -> None:
    """The environments' Namespaces, applied for real (namespaced objects need them)."""
    namespaces = {o["metadata"]["name"]: o for leaf in leaves() for o in leaf_objects(leaf)
                  if o["kind"] == "Namespace"}
    apply(cluster, namespaces.values())
