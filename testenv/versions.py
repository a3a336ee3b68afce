"""The pinned programs of the test environment: one line to change per version bump.

Each recipe names the Go module it comes from and the main packages to build. A recipe's
binaries live in their own cache directory named after the module version, so two versions
never overwrite each other and a bump rebuilds only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KUBERNETES", "OTEL", "OTEL_COMPONENTS", "RECIPES", "STAGING", "Recipe", "recipe_for"]

KUBERNETES = "v1.36.3"
# Every k8s.io staging module is published as v0.<minor>.<patch> of the same release.
STAGING = "v0" + KUBERNETES[2:]
OTEL = "v0.161.0"  # the collector release; every component below is taken at it


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str  # cache directory and wrapper-module name
    module: str  # the Go module required by the wrapper
    version: str
    binaries: dict[str, str]  # binary name -> main package import path
    ldflags: str = ""
    # `k8s`: generate replaces for k8s.io/kubernetes' ./staging modules; `otelcol`: run the
    # collector builder on a manifest instead of `go build`.
    kind: str = "go"
    # binary -> argv that makes it print its version, which must name `version`
    probes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def _k8s_ldflags() -> str:
    major, minor = KUBERNETES[1:].split(".")[:2]
    pairs = {"gitVersion": KUBERNETES, "gitMajor": major, "gitMinor": minor,
             "gitTreeState": "clean"}
    # Both packages carry the version: the servers report component-base's, kubectl's client
    # half reports client-go's.
    return " ".join(f"-X {pkg}.{k}={v}" for pkg in ("k8s.io/component-base/version",
                                                    "k8s.io/client-go/pkg/version")
                    for k, v in pairs.items())


# The collector holds exactly the components that compiler/render/otel.py writes into its
# configuration (receivers, processors, exporters, extensions), and nothing else.
_CONTRIB = "github.com/open-telemetry/opentelemetry-collector-contrib"
OTEL_COMPONENTS = {
    "receivers": [f"go.opentelemetry.io/collector/receiver/otlpreceiver {OTEL}"],
    "processors": [
        f"go.opentelemetry.io/collector/processor/batchprocessor {OTEL}",
        f"go.opentelemetry.io/collector/processor/memorylimiterprocessor {OTEL}",
        # stable since this release, so it is versioned v1.x beside contrib's v0.161.0
        f"{_CONTRIB}/processor/k8sattributesprocessor v1.0.0",
        f"{_CONTRIB}/processor/resourceprocessor {OTEL}",
        f"{_CONTRIB}/processor/tailsamplingprocessor {OTEL}",
    ],
    "exporters": [
        f"go.opentelemetry.io/collector/exporter/otlpexporter {OTEL}",
        f"{_CONTRIB}/exporter/prometheusexporter {OTEL}",
    ],
    "extensions": [f"{_CONTRIB}/extension/healthcheckextension {OTEL}"],
}

RECIPES: tuple[Recipe, ...] = (
    Recipe("etcd", "go.etcd.io/etcd/server/v3", "v3.6.16",
           {"etcd": "go.etcd.io/etcd/server/v3"}, probes=(("etcd", ("--version",)),)),
    Recipe("kubernetes", "k8s.io/kubernetes", KUBERNETES,
           {b: f"k8s.io/kubernetes/cmd/{b}" for b in
            ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")},
           ldflags=_k8s_ldflags(), kind="k8s",
           probes=(("kube-apiserver", ("--version",)), ("kubectl", ("version", "--client")))),
    Recipe("kwok", "sigs.k8s.io/kwok", "v0.7.0", {"kwok": "sigs.k8s.io/kwok/cmd/kwok"}),
    Recipe("kustomize", "sigs.k8s.io/kustomize/kustomize/v5", "v5.8.1",
           {"kustomize": "sigs.k8s.io/kustomize/kustomize/v5"}),
    Recipe("helm", "helm.sh/helm/v3", "v3.22.0", {"helm": "helm.sh/helm/v3/cmd/helm"}),
    Recipe("cosign", "github.com/sigstore/cosign/v2", "v2.6.5",
           {"cosign": "github.com/sigstore/cosign/v2/cmd/cosign"}),
    Recipe("actionlint", "github.com/rhysd/actionlint", "v1.7.12",
           {"actionlint": "github.com/rhysd/actionlint/cmd/actionlint"}),
    Recipe("otelcol", "go.opentelemetry.io/collector/cmd/builder", OTEL,
           {"otelcol-mentat": "go.opentelemetry.io/collector/cmd/builder"}, kind="otelcol"),
)


def recipe_for(binary: str) -> Recipe:
    for r in RECIPES:
        if binary in r.binaries:
            return r
    known = sorted(b for r in RECIPES for b in r.binaries)
    raise KeyError(f"no recipe builds {binary!r}; known: {', '.join(known)}")
