"""The test environment: pinned upstream programs built from their Go modules, and a real
Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) on
127.0.0.1. See testenv/README.md."""

from testenv.build import BuildError, binary, build, cache_root
from testenv.controlplane import ControlPlane, ControlPlaneError

__all__ = ["BuildError", "ControlPlane", "ControlPlaneError", "binary", "build", "cache_root"]
