"""A Helm chart, written the usual way (one template per kind ranging over values), that
renders the same objects as one compiled leaf directory: the `helm template` anchor.

The values hold each object's name, namespace, labels, annotations and body; the templates
put the apiVersion and kind around them with `toYaml`, as most charts do for their specs.
The values live beside the chart (`helm template -f <chart>.values.yaml`), as an environment's
values file does: helm refuses chart files over 5 MiB, which a 10k-object leaf's values pass.
`same_objects` checks the claim: parsed, the chart's output equals the leaf's objects.

    python benchmarks/helm_chart.py rendered/prod/us-east-1 /tmp/chart
    helm template bench /tmp/chart -f /tmp/chart.values.yaml
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

__all__ = ["leaf_objects", "same_objects", "template_args", "values_file", "write_chart"]

_META = ("name", "namespace", "labels", "annotations")
_TEMPLATE = """\
{{{{- range .Values.{key} }}}}
---
apiVersion: {api}
kind: {kind}
metadata:
  name: {{{{ .name }}}}
  {{{{- with .namespace }}}}
  namespace: {{{{ . }}}}
  {{{{- end }}}}
  {{{{- with .labels }}}}
  labels:
    {{{{- toYaml . | nindent 4 }}}}
  {{{{- end }}}}
  {{{{- with .annotations }}}}
  annotations:
    {{{{- toYaml . | nindent 4 }}}}
  {{{{- end }}}}
{{{{- range $field, $value := .body }}}}
{{{{ $field }}}}:
  {{{{- toYaml $value | nindent 2 }}}}
{{{{- end }}}}
{{{{- end }}}}
"""


def leaf_objects(leaf: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in sorted(leaf.glob("*.yaml")):
        if p.name != "kustomization.yaml":
            out += [d for d in yaml.load_all(p.read_text(), Loader=yaml.CSafeLoader) if d]
    return out


def _values_key(api: str, kind: str) -> str:
    group = api.split("/")[0] if "/" in api else "core"
    return f"{kind[0].lower()}{kind[1:]}_{group.replace('.', '_')}"


def values_file(chart: Path) -> Path:
    return chart.with_name(chart.name + ".values.yaml")


def template_args(chart: Path) -> list[str]:
    """`helm` arguments that render the chart with its values."""
    return ["template", "bench", str(chart), "-f", str(values_file(chart))]


def write_chart(leaf: Path, chart: Path) -> int:
    """Write Chart.yaml, the values file and one template per (apiVersion, kind); returns the
    number of objects the chart renders."""
    objects = leaf_objects(leaf)
    by_kind: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for o in objects:
        meta = o.get("metadata", {})
        entry = {k: meta[k] for k in _META if k in meta}
        entry["body"] = {k: v for k, v in o.items() if k not in ("apiVersion", "kind", "metadata")}
        by_kind[(o["apiVersion"], o["kind"])].append(entry)
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: bench\nversion: 0.1.0\ndescription: the benchmark's anchor\n")
    values = {_values_key(api, kind): items for (api, kind), items in sorted(by_kind.items())}
    (chart / "values.yaml").write_text("{}\n")
    values_file(chart).write_text(yaml.dump(values, Dumper=yaml.CSafeDumper, sort_keys=True,
                                            width=4096))
    for api, kind in sorted(by_kind):
        key = _values_key(api, kind)
        (chart / "templates" / f"{key}.yaml").write_text(_TEMPLATE.format(key=key, api=api,
                                                                          kind=kind))
    return len(objects)


def _identity(o: dict[str, Any]) -> tuple[str, str, str, str]:
    m = o.get("metadata", {})
    return (o.get("apiVersion", ""), o.get("kind", ""), m.get("namespace", ""), m.get("name", ""))


def same_objects(helm_output: str, leaf: Path) -> bool:
    """True when `helm template`'s stream holds exactly the leaf's objects (order aside)."""
    rendered = [d for d in yaml.load_all(helm_output, Loader=yaml.CSafeLoader) if d]
    ours = leaf_objects(leaf)
    return sorted(rendered, key=_identity) == sorted(ours, key=_identity)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("leaf", type=Path, help="a rendered/<env>/<region> directory")
    ap.add_argument("chart", type=Path, help="where to write the chart")
    args = ap.parse_args(argv)
    print(f"{write_chart(args.leaf, args.chart)} objects", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
