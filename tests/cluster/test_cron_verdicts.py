"""Our verdict on a CronJob schedule (compiler/cron.py) is the real apiserver's, on a table of
schedules chosen at the edges of robfig/cron's parser: each is created as a CronJob with a
server-side dry run, and accepted exactly when we accept it (refused with the same reason)."""

from __future__ import annotations

import json
import re

import pytest

from compiler import cron

pytestmark = pytest.mark.cluster

# (schedule, our verdict): the verdict documents intent; the test compares with the apiserver
TABLE: list[tuple[str, bool]] = [
    ("0 * * * *", True), ("*/15 * * * *", True), ("30 9 * * 1-5", True),
    ("@hourly", True), ("@daily", True), ("@midnight", True), ("@weekly", True),
    ("@monthly", True), ("@yearly", True), ("@annually", True),
    ("@every 1h30m", True), ("@every 5s", True), ("@every 1.5h", True), ("@every -1h", True),
    ("0 0 30 2 *", True),            # accepted, never fires (M207 warns)
    ("0 0 31 4 *", True),            # accepted, never fires
    ("0 0 * * SUN", True), ("0 0 * jan-mar mon-fri", True), ("0 0 ? * *", True),
    ("*-5 * * * *", True),           # robfig ignores what follows "*"
    ("5/15 * * * *", True), ("1-59/2 * * * *", True), ("0 0 1,,15 * *", True),
    ("+5 * * * *", True), ("00 00 * * *", True), ("0 0 * * 0-6", True),
    ("0  0 * * *", True), ("0\t0 * * *", True),
    ("61 * * * *", False), ("0 24 * * *", False), ("0 0 0 * *", False), ("0 0 * 13 *", False),
    ("0 0 * * 7", False),            # Sunday is 0 only
    ("0 0 L * *", False), ("0 0 * * 5L", False), ("0 0 * * MON#2", False), ("0 0 15W * *", False),
    ("0 0 * * * *", False), ("0 0 * *", False), ("*", False),
    ("@reboot", False), ("@every", False), ("@every 1", False), ("@HOURLY", False),
    ("@every 1d", False), (" @hourly", False), ("@hourly ", False),
    ("CRON_TZ=UTC 0 * * * *", False), ("TZ=UTC 0 * * * *", False),
    ("*/0 * * * *", False), ("5-1 * * * *", False), ("1-2-3 * * * *", False),
    ("1/2/3 * * * *", False), ("-1 * * * *", False), ("a * * * *", False), ("0 0 * * funday", False),
]


def _reason(schedule: str) -> str | None:
    """None when we accept the schedule, else our reason."""
    try:
        cron.parse(schedule)
    except cron.ScheduleError as e:
        return str(e)
    return None


def _ours(schedule: str) -> bool:
    return _reason(schedule) is None


def _cronjob(i: int, schedule: str) -> dict[str, object]:
    pod = {"restartPolicy": "Never",
           "containers": [{"name": "c", "image": "registry.example/c@sha256:" + "a" * 64}]}
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": f"cron-{i:02d}", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": pod}}}}}


def test_the_table_is_what_we_say() -> None:
    assert [s for s, verdict in TABLE if _ours(s) != verdict] == []


def test_our_verdicts_are_the_apiservers(cluster) -> None:  # type: ignore[no-untyped-def]
    stream = "".join(f"---\n{json.dumps(_cronjob(i, s))}\n" for i, (s, _) in enumerate(TABLE))
    done = cluster.kubectl("create", "--dry-run=server", "-o", "name", "-f", "-", input=stream,
                           check=False)
    accepted = set(re.findall(r"cronjob\.batch/(cron-\d+)", done.stdout))
    rejected = set(re.findall(r'CronJob\.batch "(cron-\d+)" is invalid', done.stderr))
    names = {f"cron-{i:02d}" for i in range(len(TABLE))}
    assert accepted | rejected == names and not accepted & rejected, done.stderr
    theirs = {int(n[5:]) for n in accepted}
    disagree = [(s, "we accept" if _ours(s) else "we refuse") for i, (s, _) in enumerate(TABLE)
                if _ours(s) != (i in theirs)]
    assert disagree == [], done.stderr
    # and where both refuse, for the same reason, in the same words
    reasons = dict(re.findall(r'CronJob\.batch "cron-(\d+)" is invalid: spec\.schedule: Invalid '
                              r'value: "(?:[^"\\]|\\.)*": (.*)', done.stderr))
    for i, (schedule, _) in enumerate(TABLE):
        if f"{i:02d}" in reasons:
            assert _reason(schedule) == reasons[f"{i:02d}"], schedule
