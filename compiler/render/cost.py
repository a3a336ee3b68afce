"""Monthly cost estimates: resources x replicas x duty cycle x regions, priced per hour.

Exact arithmetic throughout (Fraction); rounding happens only when a number is shown. A month
is 730 hours. Service and stream flows run all month; a job runs, per month, a twelfth of its
schedule's runs in the reference year 2025 (UTC, as the CronJobs are rendered), for the flow's
`spec.expectedDurationSeconds` each time. 2025 has 8760 = 12 x 730 hours, so the reference
month is exactly a 730-hour window on average; a whole year (rather than one 730-hour window)
keeps monthly, quarterly or February-only schedules from counting as 0 or as a full month,
and never "now", so the same sources give the same estimate forever.
Every line carries the formula that produced it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from itertools import chain
from typing import Any, TypeVar

from compiler import cron
from compiler.diagnostics import Diagnostic, Severity
from compiler.model import Artifact, LinkedFlow, LinkedNode, Pricing, Rendered, Workspace
from compiler.model.quantity import parse_quantity
from compiler.render import RenderInput
from compiler.render.layout import dump_json
from compiler.render.placement import (
    check_region_overrides,
    flow_environments,
    flow_regions,
    replicas_in,
    resources_in,
)

__all__ = [
    "COST_FILE",
    "HOURS_PER_MONTH",
    "REFERENCE_END",
    "REFERENCE_START",
    "CostLine",
    "CostReport",
    "cost_json",
    "estimate",
    "fmt",
    "money",
    "parse_quantity",
    "render_cost",
    "runs_per_month",
    "runs_per_year",
]

COST_FILE = "cost.json"
HOURS_PER_MONTH = 730
REFERENCE_START = datetime(2025, 1, 1, tzinfo=UTC)
REFERENCE_END = datetime(2026, 1, 1, tzinfo=UTC)  # 8760 h: twelve 730-hour months
_GIB = 2**30
_MONEY_PLACES = Decimal("0.0001")
_X = "\u00d7"  # the multiplication sign, for formulas people read

@dataclass(frozen=True, slots=True)
class CostLine:
    environment: str
    region: str
    flow: str  # name@version
    node: str
    agent: str  # name@version
    mode: str
    replicas: int
    cpu: Fraction  # cores per replica
    memory_gib: Fraction  # GiB per replica
    gpu: Fraction  # GPUs per replica
    hours: Fraction  # hours per replica per month
    duty: str  # how `hours` came about
    monthly: Fraction
    formula: str
    cost_center: str = ""  # the flow's `cost-center` label, as agents report it in telemetry


T = TypeVar("T")

# The groups cost.json totals and `mentatctl cost` reports, by name in cost.json: a line's
# group from its (environment, region, flow, node, cost center).
GROUPINGS: dict[str, Callable[[str, str, str, str, str], str]] = {
    "flows": lambda env, region, flow, node, center: flow,
    "nodes": lambda env, region, flow, node, center: f"{flow}/{node}",
    "environments": lambda env, region, flow, node, center: env,
    "costCenters": lambda env, region, flow, node, center: center or "(none)",
    "regions": lambda env, region, flow, node, center: region,
    "environmentRegions": lambda env, region, flow, node, center: f"{env}/{region}",
}


@dataclass(frozen=True, slots=True)
class CostReport:
    workspace: str
    prices: Pricing
    lines: tuple[CostLine, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    def total_by(self, grouping: str) -> dict[str, Fraction]:
        """Monthly totals per group of `GROUPINGS[grouping]`, sorted."""
        key = GROUPINGS[grouping]
        groups: dict[str, list[Fraction]] = {}
        for c in self.lines:
            group = key(c.environment, c.region, c.flow, c.node, c.cost_center)
            groups.setdefault(group, []).append(c.monthly)
        return {k: _exact_sum(v) for k, v in sorted(groups.items())}

    @property
    def total(self) -> Fraction:
        return _exact_sum(c.monthly for c in self.lines)

    def only(self, environment: str) -> CostReport:
        lines = tuple(c for c in self.lines if c.environment == environment)
        return CostReport(self.workspace, self.prices, lines, self.diagnostics)


def _exact_sum(values: Iterable[Fraction]) -> Fraction:
    """The exact sum, adding numerators per denominator first: prices and quantities share
    few denominators, and each Fraction addition costs a gcd."""
    by_den: dict[int, int] = {}
    for v in values:
        by_den[v.denominator] = by_den.get(v.denominator, 0) + v.numerator
    return _of_sums(by_den)


def _of_sums(by_den: dict[int, int]) -> Fraction:
    return sum((Fraction(n, d) for d, n in sorted(by_den.items())), Fraction(0))


@lru_cache(maxsize=4096)  # a workspace repeats a few resource sizes and hours many times
def fmt(x: Fraction, places: int = 6) -> str:
    """A number for people: exact when it fits in `places` decimals, else rounded; no `1E+1`."""
    d = (Decimal(x.numerator) / Decimal(x.denominator)).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
    )
    text = f"{d:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def money(x: Fraction) -> Decimal:
    """Round for display only: 4 decimals, half up."""
    return _money(x.numerator, x.denominator)


def _money(numerator: int, denominator: int) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        _MONEY_PLACES, rounding=ROUND_HALF_UP
    )


@lru_cache(maxsize=256)
def runs_per_year(schedule: str) -> int:
    """Runs of a CronJob schedule (as Kubernetes reads it) in the reference year 2025, UTC."""
    return cron.runs_per_year(cron.parse(schedule), REFERENCE_START.year)


def runs_per_month(schedule: str) -> Fraction:
    """Average runs in a 730-hour month: a twelfth of the reference year's runs."""
    return Fraction(runs_per_year(schedule), 12)


def _resources(flow: LinkedFlow, node: LinkedNode, env: str) -> tuple[Fraction, Fraction, Fraction]:
    r = resources_in(flow, node, env)
    cpu = parse_quantity(r.get("cpu", 0))
    memory = parse_quantity(r.get("memory", 0)) / _GIB
    gpu = parse_quantity(r.get("gpu", 0))
    return cpu, memory, gpu


def _duty(
    flow: LinkedFlow, diags: list[Diagnostic]
) -> tuple[Fraction, str]:
    """Hours per month a replica of the flow's nodes runs, and how that was computed."""
    f = flow.flow
    if f.mode != "job":
        return Fraction(HOURS_PER_MONTH), f"{f.mode}: always on, {HOURS_PER_MONTH} h"
    duration = f.spec.get("expectedDurationSeconds")
    runs = runs_per_month(f.schedule) if f.schedule else Fraction(1)
    runs_text = (f"{fmt(runs)} runs/month of {f.schedule!r}" if f.schedule
                 else "1 run (no schedule)")
    if f.schedule and runs == 0 and not cron.never_fires(cron.parse(f.schedule)):
        # (one that never fires at all is M207 already)
        pos = f.doc.pos(("spec", "schedule"))
        diags.append(Diagnostic(
            "M520", f"job flow {f.key}: schedule {f.schedule!r} never fires in the reference "
            "year 2025; its cost is counted as 0", f.doc.file, pos.line, pos.col,
            Severity.WARNING))
    if duration is None or isinstance(duration, bool) or not isinstance(duration, int | float):
        pos = f.doc.pos(("spec", "mode"))
        diags.append(Diagnostic(
            "M520", f"job flow {f.key} has no spec.expectedDurationSeconds; its cost is "
            "counted as 0", f.doc.file, pos.line, pos.col, Severity.WARNING,
            "declare how long one run takes, in seconds",
        ))
        return Fraction(0), f"job: {runs_text} {_X} unknown duration = 0 h"
    seconds = Fraction(str(duration))
    hours = runs * seconds / 3600
    text = f"job: {runs_text} {_X} {fmt(seconds)} s / 3600 = {fmt(hours)} h"
    # a CronJob does not overlap its own runs (concurrencyPolicy: Forbid)
    if hours > HOURS_PER_MONTH:
        return Fraction(HOURS_PER_MONTH), f"{text}, capped at {HOURS_PER_MONTH} h"
    return hours, text


def _formula(
    replicas: int, cpu: Fraction, mem: Fraction, gpu: Fraction, prices: Pricing,
    hours: Fraction, monthly: Fraction,
) -> str:
    rate = (
        f"{fmt(cpu)} cpu {_X} {fmt(prices.cpu_hour)}"
        f" + {fmt(mem)} GiB {_X} {fmt(prices.memory_gib_hour)}"
        f" + {fmt(gpu)} gpu {_X} {fmt(prices.gpu_hour)}"
    )
    return f"{replicas} {_X} ({rate})/h {_X} {fmt(hours)} h = {money(monthly)}"


FlowCost = tuple[list[CostLine], list[Diagnostic]]


def flow_cost(ws: Workspace, prices: Pricing, lf: LinkedFlow) -> FlowCost:
    """One flow's cost lines in every environment x region it deploys to."""
    diags: list[Diagnostic] = []
    lines: list[CostLine] = []
    for env in flow_environments(ws, lf):
        for region in flow_regions(lf, env):
            hours, duty = _duty(lf, diags)
            for node in lf.nodes:
                try:
                    cpu, mem, gpu = _resources(lf, node, env.name)
                except ValueError as e:
                    doc = node.agent.doc
                    pos = doc.pos(("spec", "resources"))
                    diags.append(Diagnostic("M520", f"agent {node.agent.key}: {e}; counted as 0",
                                            doc.file, pos.line, pos.col, Severity.WARNING))
                    cpu = mem = gpu = Fraction(0)
                replicas = replicas_in(lf, node, env, region)
                monthly = replicas * prices.hourly(cpu, mem, gpu) * hours
                lines.append(CostLine(
                    environment=env.name, region=region, flow=lf.flow.key, node=node.id,
                    agent=node.agent.key, mode=lf.flow.mode, replicas=replicas,
                    cpu=cpu, memory_gib=mem, gpu=gpu, hours=hours, duty=duty, monthly=monthly,
                    formula=_formula(replicas, cpu, mem, gpu, prices, hours, monthly),
                    cost_center=lf.flow.labels.get("cost-center", ""),
                ))
    return lines, diags


def estimate(ws: Workspace) -> CostReport:
    """Cost per (environment, region, flow, node), from the workspace's pricing."""
    prices = ws.spec.pricing or Pricing()
    per_flow, diags = _per_flow(ws, lambda lf: flow_cost(ws, prices, lf))
    lines = sorted((c for found in per_flow for c in found),
                   key=lambda c: (c.environment, c.region, c.flow, c.node))
    return CostReport(ws.spec.name, prices, tuple(lines), diags)


def _per_flow(ws: Workspace, each: Callable[[LinkedFlow], tuple[T, list[Diagnostic]]]
              ) -> tuple[list[T], tuple[Diagnostic, ...]]:
    """`each` flow's cost (its lines, or its part of cost.json) with the diagnostics of them
    all: the region overrides checked once, each warning once however many placements it
    has."""
    found: list[T] = []
    diags: list[Diagnostic] = list(check_region_overrides(ws))
    for lf in ws.flows:
        value, flow_diags = each(lf)
        found.append(value)
        diags += flow_diags
    return found, tuple(dict.fromkeys(diags))


# A flow's part of cost.json: its lines as JSON, and per line what the totals add up
# (environment, region, flow, node, cost center, monthly as numerator and denominator).
Sum = tuple[str, str, str, str, str, int, int]
Part = tuple[list[dict[str, Any]], list[Sum]]
_SCALARS = frozenset({str, int, float})


def _part(lines: Iterable[CostLine]) -> Part:
    json_lines, sums = [], []
    for c in lines:
        json_lines.append({
            "environment": c.environment, "region": c.region, "flow": c.flow,
            "node": c.node, "agent": c.agent, "mode": c.mode, "replicas": c.replicas,
            "cpu": fmt(c.cpu), "memoryGiB": fmt(c.memory_gib), "gpu": fmt(c.gpu),
            "hours": fmt(c.hours), "duty": c.duty, "monthly": _money_json(c.monthly),
            "formula": c.formula, "costCenter": c.cost_center,
        })
        sums.append((c.environment, c.region, c.flow, c.node, c.cost_center,
                     c.monthly.numerator, c.monthly.denominator))
    return json_lines, sums


def _part_in(data: Any) -> Part:
    """A part from the cache, refused (TypeError, ValueError) unless of the right shape."""
    json_lines, sums = data
    if type(json_lines) is not list or type(sums) is not list or len(json_lines) != len(sums):
        raise TypeError("bad cost entry")
    # checked in C (map, set): cost.json has a line per node and environment × region
    if (not set(map(type, json_lines)) <= {dict}
            or not set(map(type, chain.from_iterable(json_lines))) <= {str}
            or not set(map(type, chain.from_iterable(map(dict.values, json_lines)))) <= _SCALARS
            or not set(map(type, sums)) <= {tuple} or not set(map(len, sums)) <= {7}):
        raise TypeError("bad cost entry")
    if sums:
        *names, numerators, denominators = zip(*sums, strict=True)
        if (not set(map(type, chain.from_iterable(names))) <= {str}
                or set(map(type, numerators)) != {int} or set(map(type, denominators)) != {int}):
            raise TypeError("bad cost entry")
        if min(denominators) <= 0:
            raise ValueError("bad cost entry: denominator")
    return json_lines, sums


def _money_json(x: Fraction) -> float:
    return float(money(x))


def _money_of_sums(by_den: dict[int, int]) -> float:
    """`_money_json` of `_of_sums` without Fractions (a gcd per addition): the sum over the
    least common denominator, whose decimal quotient is the same (common factors aside)."""
    lcd = math.lcm(*by_den)
    return float(_money(sum(n * (lcd // d) for d, n in by_den.items()), lcd))


def _document(workspace: str, prices: Pricing, rows: list[tuple[dict[str, Any], Sum]]) -> bytes:
    """cost.json from its lines, sorted by environment, region, flow and node."""
    rows = sorted(rows, key=lambda r: r[1][:4])
    totals: dict[str, Any] = {}
    for name, key in GROUPINGS.items():
        groups: dict[str, dict[int, int]] = {}
        for _, t in rows:
            by_den = groups.setdefault(key(*t[:5]), {})
            by_den[t[6]] = by_den.get(t[6], 0) + t[5]
        totals[name] = {k: _money_of_sums(v) for k, v in groups.items()}
    everything: dict[int, int] = {}
    for _, t in rows:
        everything[t[6]] = everything.get(t[6], 0) + t[5]
    totals["total"] = _money_of_sums(everything)
    doc = {
        "apiVersion": "mentatlab.io/v1",
        "kind": "CostReport",
        "workspace": workspace,
        "hoursPerMonth": HOURS_PER_MONTH,
        "referenceYear": {"start": REFERENCE_START.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "end": REFERENCE_END.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "runsPerMonth": "runs in the year / 12"},
        "pricing": {
            "cpuHour": fmt(prices.cpu_hour),
            "memoryGiBHour": fmt(prices.memory_gib_hour),
            "gpuHour": fmt(prices.gpu_hour),
        },
        "lines": [line for line, _ in rows],
        "totals": totals,
    }
    return dump_json(doc)


def cost_json(report: CostReport) -> bytes:
    """The report as sorted, indented JSON (what `cost.json` and `cost --format json` hold)."""
    json_lines, sums = _part(report.lines)
    return _document(report.workspace, report.prices, list(zip(json_lines, sums, strict=True)))


def render_cost(inp: RenderInput) -> Rendered:
    """`cost.json` at the output root, when the workspace declares pricing."""
    ws = inp.ws
    out = Rendered()
    prices = ws.spec.pricing
    if prices is None:
        return out
    sources = sorted(
        {ws.spec.doc.file}
        | {f.flow.doc.file for f in ws.flows}
        | {n.agent.doc.file for f in ws.flows for n in f.nodes}
    )

    cache, digests = inp.cache, ws.source_digests

    def build(lf: LinkedFlow) -> tuple[Part, list[Diagnostic]]:
        lines, diags = flow_cost(ws, prices, lf)
        return _part(lines), diags

    def part(lf: LinkedFlow) -> tuple[Part, list[Diagnostic]]:
        if cache is None:
            return build(lf)
        # a flow's cost reads the workspace (prices, environments, overrides), the flow and
        # the agents it resolved to
        docs = [ws.spec.doc, lf.flow.doc, *(n.agent.doc for n in lf.nodes)]
        parts = ("cost", *(f"{d.file}#{d.index}@{digests.get(d.file, '')}" for d in docs),
                 *(n.agent.key for n in lf.nodes))
        return cache.memo(parts, lambda: build(lf), lambda p: p, _part_in)

    parts, diags = _per_flow(ws, part)
    rows = [row for json_lines, sums in parts for row in zip(json_lines, sums, strict=True)]
    out.artifacts.append(Artifact(COST_FILE, _document(ws.spec.name, prices, rows),
                                  tuple(sources)))
    out.diagnostics += diags
    return out
