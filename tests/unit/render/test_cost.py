"""Cost estimates against numbers worked out by hand (comments show the arithmetic)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from fractions import Fraction

import pytest
from croniter import croniter

from compiler.render import RenderInput
from compiler.render.cost import (
    HOURS_PER_MONTH,
    REFERENCE_END,
    REFERENCE_START,
    cost_json,
    estimate,
    fmt,
    money,
    parse_quantity,
    render_cost,
    runs_per_month,
    runs_per_year,
)

PRICING = {"cpuHour": 0.031, "memoryGiBHour": 0.004, "gpuHour": 2.50}
STAGING = {"name": "staging", "namespace": "mentat-staging", "regions": ["eu-west-1"]}
PROD = {"name": "prod", "namespace": "mentat-prod", "regions": ["us-east-1", "eu-west-1"]}


@pytest.mark.parametrize(("text", "value"), [
    ("500m", Fraction(1, 2)), ("1", Fraction(1)), (1, Fraction(1)), (0.5, Fraction(1, 2)),
    (0.1, Fraction(1, 10)), ("0.25", Fraction(1, 4)), ("256Mi", Fraction(256 * 2**20)),
    ("1Gi", Fraction(2**30)), ("1G", Fraction(10**9)), ("1.5Gi", Fraction(3 * 2**29)),
    ("100k", Fraction(100_000)), ("2M", Fraction(2_000_000)), ("2m", Fraction(1, 500)),
    ("1e3", Fraction(1000)), ("5E-1", Fraction(1, 2)), ("250u", Fraction(1, 4000)),
    (".5", Fraction(1, 2)), ("+1Ki", Fraction(1024)), ("0", Fraction(0)), (0, Fraction(0)),
])
def test_quantities_are_exact(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", ["1GB", "abc", "", "1.2.3", "Mi", "1 Gi", "1e999", True, None,
                                 float("nan"), float("inf"), [1], "1mi"])
def test_bad_quantities_are_refused(bad):
    with pytest.raises(ValueError):
        parse_quantity(bad)


def test_display_numbers():
    assert fmt(Fraction(1, 2)) == "0.5"
    assert fmt(Fraction(1, 3)) == "0.333333"
    assert fmt(Fraction(0)) == "0"
    assert fmt(Fraction(730)) == "730"
    assert fmt(Fraction(10**9, 2**30)) == "0.931323"
    assert str(money(Fraction(61685, 1000))) == "61.6850"
    assert str(money(Fraction(5, 100000))) == "0.0001"  # half up


@pytest.mark.parametrize(("schedule", "per_year"), [
    ("0 * * * *", 8760),           # hourly: 365 * 24 -> 730 a month
    ("*/15 * * * *", 35040),       # 4 per hour
    ("0 0 * * *", 365),            # daily
    ("0 0 * * 1", 52),             # 2025 starts on a Wednesday: 52 Mondays
    ("30 9 * * 1-5", 261),         # 52 weeks * 5 weekdays + Wednesday Dec 31
    ("0 0 1 * *", 12),             # monthly
    ("0 0 1 2 *", 1),              # once a year, in February
    ("0,30 8-9 * * *", 365 * 4),
    ("0 0 1,15 * 0", 24 + 52 - 2),  # cron ORs day of month and day of week; 2 Sundays overlap
    ("0 0 29 2 *", 0),             # leap years only
    ("0 0 30 2 *", 0),             # never (M207 at validate; counted as 0, not a crash)
    ("@hourly", 8760),
    ("@weekly", 52),               # Sundays at midnight
    ("@yearly", 1),
    ("@every 90m", 5840),          # 525,600 minutes / 90
    ("@every 1s", 365 * 86400),
])
def test_runs_in_the_reference_year(schedule, per_year):
    assert runs_per_year(schedule) == per_year
    assert runs_per_month(schedule) == Fraction(per_year, 12)


@pytest.mark.parametrize("schedule", ["*/20 3 * * 1", "5,50 */6 1,15 * *", "0 0 13 * 5",
                                      "15 12 1-7 * 1"])
def test_fast_count_equals_run_by_run_iteration(schedule):
    # croniter, an independent implementation, walks the year run by run
    it = croniter(schedule, REFERENCE_START - timedelta(seconds=1))
    slow = 0
    while it.get_next(datetime) < REFERENCE_END:
        slow += 1
    assert runs_per_year(schedule) == slow


def test_schedule_that_never_fires_warns(build):
    flow = build.flow("leap", [("n", build.agent(), 1)], mode="job", schedule="0 0 29 2 *",
                      duration=60)
    report = estimate(build.workspace([PROD], (flow,), pricing=PRICING))
    assert report.total == 0
    (d,) = report.diagnostics
    assert d.code == "M520" and "never fires" in d.message


def test_service_flow_always_on(build):
    digest = build.agent("summarizer", cpu="500m", memory="256Mi", gpu=0)
    flow = build.flow("news", [("digest", digest, 2)], mode="service")
    report = estimate(build.workspace([STAGING], (flow,), pricing=PRICING))
    (line,) = report.lines
    # per replica: 0.5 * 0.031 + 0.25 * 0.004 = 0.0165 /h; 2 replicas * 730 h = 24.09
    assert line.monthly == Fraction("24.09")
    assert line.hours == 730 and line.replicas == 2
    assert line.formula == (
        "2 \u00d7 (0.5 cpu \u00d7 0.031 + 0.25 GiB \u00d7 0.004 + 0 gpu \u00d7 2.5)/h"
        " \u00d7 730 h = 24.0900"
    )
    assert report.total == Fraction("24.09")
    assert report.diagnostics == ()


def test_daily_job_averages_over_the_year(build):
    a = build.agent("nightly", cpu="4", memory="16Gi", gpu=0)
    flow = build.flow("nightly", [("n", a, 3)], mode="job", schedule="0 2 * * *", duration=1800)
    (line,) = estimate(build.workspace([STAGING], (flow,), pricing=PRICING)).lines
    # 365/12 runs * 0.5 h = 365/24 h; rate 4 * 0.031 + 16 * 0.004 = 0.188; * 3 replicas
    # 3 * 0.188 * 365 / 24 = 205.86 / 24 = 8.5775
    assert line.hours == Fraction(365, 24)
    assert line.monthly == Fraction("8.5775")
    assert line.duty.startswith("job: 30.416667 runs/month of '0 2 * * *'")


def test_job_flow_schedule_times_duration(build):
    fetcher = build.agent("fetcher", cpu="1", memory="1Gi", gpu=1)
    flow = build.flow("hourly", [("fetch", fetcher, 1)], mode="job", schedule="0 * * * *",
                      duration=120)
    (line,) = estimate(build.workspace([STAGING], (flow,), pricing=PRICING)).lines
    # 730 runs * 120 s = 87600 s = 24 1/3 h; rate 0.031 + 0.004 + 2.5 = 2.535 /h
    # 2.535 * 73 / 3 = 61.685
    assert line.hours == Fraction(73, 3)
    assert line.monthly == Fraction("61.685")
    assert "730 runs/month of '0 * * * *'" in line.duty and "120 s / 3600" in line.duty


def test_job_without_schedule_runs_once_and_long_jobs_are_capped(build):
    a = build.agent("a", cpu="1", memory="0", gpu=0)
    once = build.flow("once", [("n", a, 1)], mode="job", duration=7200)
    busy = build.flow("busy", [("n", a, 1)], mode="job", schedule="* * * * *", duration=3600)
    report = estimate(build.workspace([STAGING], (once, busy), pricing=PRICING))
    by_flow = {c.flow: c for c in report.lines}
    assert by_flow["once@1.0.0"].hours == 2  # one run of 2 h
    assert by_flow["once@1.0.0"].monthly == Fraction("0.062")
    assert by_flow["busy@1.0.0"].hours == HOURS_PER_MONTH
    assert "capped at 730 h" in by_flow["busy@1.0.0"].duty


def test_job_without_duration_warns_once_and_counts_zero(build):
    a = build.agent("a")
    flow = build.flow("nodur", [("x", a, 1), ("y", a, 1)], mode="job", schedule="0 * * * *")
    report = estimate(build.workspace([STAGING, PROD], (flow,), pricing=PRICING))
    assert all(c.monthly == 0 for c in report.lines) and len(report.lines) == 6
    (diag,) = report.diagnostics
    assert diag.code == "M520" and diag.severity == "warning" and diag.file == "flows/nodur.yaml"


def test_unparsable_resources_warn_and_count_zero(build):
    a = build.agent("weird", cpu="lots", memory="1Gi")
    flow = build.flow("f", [("n", a, 1)])
    report = estimate(build.workspace([PROD], (flow,), pricing=PRICING))
    assert [c.monthly for c in report.lines] == [0, 0]
    (diag,) = report.diagnostics
    assert diag.code == "M520" and "'lots'" in diag.message


def test_environment_overrides_regions_and_sums(build):
    # 1 cpu, 1 GiB: 0.031 + 0.004 = 0.035 /h -> 25.55 per replica-month
    a = build.agent("worker", cpu="1", memory="1Gi", gpu=0)
    flow = build.flow("svc", [("w", a, 1)], overrides={"prod": {"nodes": {"w": {"replicas": 3}}}})
    prod = {**PROD, "regionOverrides": {"eu-west-1": {"replicaFactor": 0.5}}}
    report = estimate(build.workspace([STAGING, prod], (flow,), pricing=PRICING))
    replicas = {(c.environment, c.region): c.replicas for c in report.lines}
    # staging: 1; prod us-east-1: override 3; prod eu-west-1: ceil(3 * 0.5) = 2
    assert replicas == {("staging", "eu-west-1"): 1, ("prod", "us-east-1"): 3,
                        ("prod", "eu-west-1"): 2}
    assert report.total_by("environments") == {"prod": Fraction("127.75"), "staging": Fraction("25.55")}
    assert report.total_by("regions") == {"eu-west-1": Fraction("76.65"), "us-east-1": Fraction("76.65")}
    assert report.total_by("environmentRegions") == {
        "prod/eu-west-1": Fraction("51.1"), "prod/us-east-1": Fraction("76.65"),
        "staging/eu-west-1": Fraction("25.55")}
    assert report.total == Fraction("153.3") == sum(report.total_by("regions").values())
    assert report.total_by("flows") == {"svc@1.0.0": Fraction("153.3")}
    assert report.only("staging").total == Fraction("25.55")


def test_flow_regions_restrict_and_exact_region_override_wins(build):
    a = build.agent("worker", cpu="1", memory="1Gi", gpu=0)
    b = build.agent("helper", cpu="250m", memory="512Mi", gpu=0)
    flow = build.flow("svc", [("w", a, 4), ("h", b, 4)], regions=("eu-west-1",))
    prod = {**PROD, "regionOverrides": {"eu-west-1": {
        "replicaFactor": 0.5, "flows": {"svc": {"nodes": {"w": {"replicas": 1}}}}}}}
    report = estimate(build.workspace([prod], (flow,), pricing=PRICING))
    lines = {c.node: c for c in report.lines}
    assert {c.region for c in report.lines} == {"eu-west-1"}
    assert lines["w"].replicas == 1          # exact override
    assert lines["h"].replicas == 2          # ceil(4 * 0.5)
    # h: 0.25 * 0.031 + 0.5 * 0.004 = 0.00975 /h * 2 * 730 = 14.235
    assert lines["h"].monthly == Fraction("14.235")
    assert report.total_by("nodes") == {"svc@1.0.0/h": Fraction("14.235"),
                                "svc@1.0.0/w": Fraction("25.55")}


def test_flow_environments_restrict(build):
    a = build.agent()
    flow = build.flow("only-staging", [("n", a, 1)], environments=("staging",))
    report = estimate(build.workspace([STAGING, PROD], (flow,), pricing=PRICING))
    assert {c.environment for c in report.lines} == {"staging"}


def test_region_override_mistakes_are_errors(build):
    a = build.agent()
    flow = build.flow("svc", [("n", a, 1)])
    prod = {**PROD, "regionOverrides": {
        "ap-south-1": {"replicaFactor": 2},
        "eu-west-1": {"flows": {"nope": {}, "svc": {"nodes": {"ghost": {"replicas": 1}}}}}}}
    report = estimate(build.workspace([prod], (flow,), pricing=PRICING))
    messages = sorted(d.message for d in report.diagnostics)
    assert [d.code for d in report.diagnostics] == ["M521"] * 3
    assert any("'ap-south-1'" in m for m in messages)
    assert any("unknown flow 'nope'" in m for m in messages)
    assert any("unknown node 'ghost'" in m for m in messages)


def test_gpu_and_decimal_memory(build):
    a = build.agent("gpu", cpu="2", memory="1G", gpu=1)
    flow = build.flow("g", [("n", a, 1)])
    (line,) = estimate(build.workspace([STAGING], (flow,), pricing=PRICING)).lines
    mem = Fraction(10**9, 2**30)
    assert line.memory_gib == mem
    assert line.monthly == (2 * Fraction("0.031") + mem * Fraction("0.004") + Fraction("2.5")) * 730


def test_cost_json_is_deterministic_and_rounded_for_display_only(build):
    a = build.agent("worker", cpu="1", memory="1Gi", gpu=0)
    flow = build.flow("svc", [("w", a, 1)])
    ws = build.workspace([STAGING, PROD], (flow,), pricing=PRICING)
    first = cost_json(estimate(ws))
    assert first == cost_json(estimate(ws)) and first.endswith(b"}\n")
    doc = json.loads(first)
    assert doc["kind"] == "CostReport" and doc["hoursPerMonth"] == 730
    assert doc["totals"]["total"] == 76.65
    assert doc["totals"]["environmentRegions"] == {
        "prod/eu-west-1": 25.55, "prod/us-east-1": 25.55, "staging/eu-west-1": 25.55}
    assert [(ln["environment"], ln["region"]) for ln in doc["lines"]] == [
        ("prod", "eu-west-1"), ("prod", "us-east-1"), ("staging", "eu-west-1")]
    assert all(ln["formula"].endswith("= 25.5500") for ln in doc["lines"])


def test_render_cost_writes_cost_json_only_with_pricing(build):
    a = build.agent()
    flow = build.flow("svc", [("w", a, 1)])
    assert render_cost(RenderInput(build.workspace([STAGING], (flow,)))).artifacts == []
    out = render_cost(RenderInput(build.workspace([STAGING], (flow,), pricing=PRICING)))
    (art,) = out.artifacts
    assert art.path == "cost.json"
    assert art.sources == ("flows/summarizer.yaml", "flows/svc.yaml", "mentat.yaml")
    assert json.loads(art.content)["totals"]["total"] == 12.045  # 0.0165 * 730


def test_per_environment_resource_override(build):
    a = build.agent("worker", cpu="1", memory="1Gi", gpu=0)
    flow = build.flow("svc", [("w", a, 1)], overrides={
        "prod": {"nodes": {"w": {"resources": {"cpu": "2"}}}}})
    report = estimate(build.workspace([STAGING, PROD], (flow,), pricing=PRICING))
    cpu = {(c.environment, c.region): c.cpu for c in report.lines}
    assert cpu == {("staging", "eu-west-1"): 1, ("prod", "us-east-1"): 2,
                   ("prod", "eu-west-1"): 2}
    # prod: (2 * 0.031 + 1 * 0.004) * 730 = 48.18 per region; memory kept from the agent
    assert report.total_by("environments") == {"prod": Fraction("96.36"), "staging": Fraction("25.55")}


def test_replica_factor_rounding_and_zero(build):
    from compiler.render.placement import replicas_in

    a = build.agent()
    flow = build.flow("svc", [("one", a, 1), ("five", a, 5), ("off", a, 0)])
    prod = {**PROD, "regionOverrides": {"eu-west-1": {"replicaFactor": 0.3},
                                        "us-east-1": {"replicaFactor": 2}}}
    ws = build.workspace([prod], (flow,))
    env = ws.spec.environments[0]
    got = {(n.id, r): replicas_in(flow, n, env, r)
           for n in flow.nodes for r in env.regions}
    assert got == {("one", "eu-west-1"): 1, ("five", "eu-west-1"): 2, ("off", "eu-west-1"): 0,
                   ("one", "us-east-1"): 2, ("five", "us-east-1"): 10, ("off", "us-east-1"): 0}


def test_totals_by_cost_center(build):
    a = build.agent("worker", cpu="1", memory="1Gi", gpu=0)
    news = build.flow("news", [("w", a, 1)], labels={"cost-center": "cc-1"})
    chat = build.flow("chat", [("w", a, 2)], labels={"cost-center": "cc-1"})
    misc = build.flow("misc", [("w", a, 1)])
    report = estimate(build.workspace([STAGING], (news, chat, misc), pricing=PRICING))
    # 25.55 per replica-month: cc-1 has 3 replicas, misc 1
    assert report.total_by("costCenters") == {"(none)": Fraction("25.55"), "cc-1": Fraction("76.65")}
    assert json.loads(cost_json(report))["totals"]["costCenters"] == {"(none)": 25.55,
                                                                     "cc-1": 76.65}


def test_money_of_sums_equals_the_fraction_sum_rounded() -> None:
    import random

    from compiler.render.cost import _money_json, _money_of_sums, _of_sums

    rng = random.Random(7)
    for _ in range(2000):
        by_den = {rng.choice([1, 3, 7, 10, 12, 100, 730, 8760, 10**6, rng.randint(1, 10**9)]):
                  rng.randint(0, 10**12) for _ in range(rng.randint(0, 6))}
        assert _money_of_sums(by_den) == _money_json(_of_sums(by_den)), by_den
