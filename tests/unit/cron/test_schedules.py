"""Schedules as Kubernetes reads them (the verdicts themselves are compared with the real
apiserver in tests/cluster/test_cron_verdicts.py): descriptors expand to their five fields,
day fields combine as robfig/cron combines them, and a schedule that names no real date is
found to never fire."""

from __future__ import annotations

import pytest

from compiler import cron


def test_descriptors_are_their_five_fields() -> None:
    assert cron.parse("@hourly") == cron.parse("0 * * * *")
    assert cron.parse("@weekly") == cron.parse("0 0 * * 0")
    assert cron.parse("@annually") == cron.parse("@yearly") == cron.parse("0 0 1 1 *")
    assert cron.parse("@every 1h30m").every == 5400
    assert cron.parse("@every 100ms").every == 1  # robfig: at least a second


def test_names_and_numbers_are_the_same_field() -> None:
    assert cron.parse("0 0 * JAN-mar Mon-FRI") == cron.parse("0 0 * 1-3 1-5")


@pytest.mark.parametrize(("schedule", "per_year"), [
    ("0 0 13 * 5", 12 + 52 - 1),  # day 13 OR Friday (both restricted); June 13, 2025 is a Friday
    ("0 0 13 * *", 12),
    ("0 0 * * 5", 52),
    ("0 0 ? * 5", 52),           # "?" is "*": day of week alone decides
    ("0 0 */1 * 5", 52),         # "*/1" is still "*" to robfig
    ("0 0 */2 * 5", 186 + 52 - 27),  # a step makes it restricted: OR (186 odd days, 27 are Fridays)
])
def test_day_fields_combine_as_robfig_cron_does(schedule: str, per_year: int) -> None:
    assert cron.runs_per_year(cron.parse(schedule), 2025) == per_year


@pytest.mark.parametrize(("schedule", "never"), [
    ("0 0 30 2 *", True), ("0 0 31 4,6,9,11 *", True), ("0 0 1,,15 * *", False),
    ("0 0 29 2 *", False),       # leap years
    ("0 0 30 2 1", False),       # or on Mondays in February (both day fields restricted)
    ("0 0 30 2 ?", True),
    ("@every 1h", False), ("@yearly", False),
])
def test_never_fires(schedule: str, never: bool) -> None:
    assert cron.never_fires(cron.parse(schedule)) is never
