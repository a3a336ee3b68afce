"""CronJob schedules, accepted exactly as Kubernetes accepts them.

The apiserver validates `CronJob.spec.schedule` with `cron.ParseStandard` of
github.com/robfig/cron/v3 and refuses any schedule containing `TZ` (the `timeZone` field is
the way); this module follows that parser rule for rule, so a flow is refused here exactly when
the cluster would refuse its CronJob (tests/cluster/test_cron_verdicts.py compares verdicts with
the real apiserver). What it accepts: five fields (minute hour day-of-month month day-of-week)
of `*`, `?`, numbers, names (JAN-DEC, SUN-SAT), ranges `a-b`, steps `/n`, lists `a,b`; the
descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly` and `@every
DURATION`. What it refuses and other cron libraries accept: `L`, `W`, `#`, a sixth field,
day-of-week 7. A schedule that parses but names no real time (`0 0 30 2 *`) is accepted by
Kubernetes and never runs: `never_fires` finds those, for a warning.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

__all__ = ["Schedule", "ScheduleError", "never_fires", "parse", "runs_per_year"]


class ScheduleError(ValueError):
    """The reason robfig/cron gives, in its words."""


@dataclass(frozen=True, slots=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] | None = None


_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
MINUTE, HOUR, DOM = _Bounds(0, 59), _Bounds(0, 23), _Bounds(1, 31)
MONTH, DOW = _Bounds(1, 12, _MONTHS), _Bounds(0, 6, _DAYS)
_STAR = 1 << 63  # robfig's starBit: the field was `*` or `?` (decides how the day fields combine)

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True, slots=True)
class Schedule:
    """Bit sets per field, as robfig keeps them; `every` (seconds) for `@every`."""

    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    every: float | None = None

    def day_matches(self, day: date) -> bool:
        dom = bool(self.dom >> day.day & 1)
        dow = bool(self.dow >> (day.isoweekday() % 7) & 1)
        if self.dom & _STAR or self.dow & _STAR:
            return dom and dow
        return dom or dow


def _atoi(text: str) -> int:
    """Go's strconv.Atoi, base 10: an optional sign and digits."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ScheduleError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                            "invalid syntax")
    return int(text)


def _unsigned(text: str) -> int:
    n = _atoi(text)
    if n < 0:
        raise ScheduleError(f"negative number ({n}) not allowed: {text}")
    return n


def _int_or_name(text: str, names: dict[str, int] | None) -> int:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    return _unsigned(text)


def _range(expr: str, b: _Bounds) -> int:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    single = len(low_high) == 1
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = b.low, b.high, _STAR  # robfig ignores anything after "*-"
    else:
        start = _int_or_name(low_high[0], b.names)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], b.names)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _unsigned(range_and_step[1])
        if single:  # "N/step" means N-max/step
            end = b.high
        if step > 1:
            extra = 0
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < b.low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({b.low}): {expr}")
    if end > b.high:
        raise ScheduleError(f"end of range ({end}) above maximum ({b.high}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    bits = 0
    for n in range(start, end + 1, step):
        bits |= 1 << n
    return bits | extra


def _field(text: str, b: _Bounds) -> int:
    bits = 0
    for expr in (e for e in text.split(",") if e):  # strings.FieldsFunc drops empty items
        bits |= _range(expr, b)
    return bits


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
          "h": 3600.0}


def _duration(text: str) -> float:
    """Go's time.ParseDuration (seconds), with its error messages."""
    invalid = ScheduleError(f'time: invalid duration "{text}"')
    s, sign = text, 1.0
    if s[:1] in ("-", "+"):
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise invalid
    total = 0.0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise invalid
        whole = re.match(r"[0-9]*", s).group()  # type: ignore[union-attr]
        s = s[len(whole):]
        frac = ""
        if s.startswith("."):
            frac = re.match(r"[0-9]*", s[1:]).group()  # type: ignore[union-attr]
            s = s[1 + len(frac):]
        if not whole and not frac:
            raise invalid
        unit = re.match(r"[^0-9.]*", s).group()  # type: ignore[union-attr]
        s = s[len(unit):]
        if not unit:
            raise ScheduleError(f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise ScheduleError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(f"{whole or 0}.{frac or 0}") * _UNITS[unit]
    return sign * total


def parse(spec: str) -> Schedule:
    """The schedule, or ScheduleError with the reason the apiserver would give."""
    if "TZ" in spec:
        raise ScheduleError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return parse(_DESCRIPTORS[spec])
        if spec.startswith("@every "):
            try:
                seconds = _duration(spec[len("@every "):])
            except ScheduleError as e:
                raise ScheduleError(f"failed to parse duration {spec}: {e}") from None
            return Schedule(every=max(seconds, 1.0))  # robfig rounds up to one second
        raise ScheduleError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: "
                            f"[{' '.join(fields)}]")
    return Schedule(_field(fields[0], MINUTE), _field(fields[1], HOUR), _field(fields[2], DOM),
                    _field(fields[3], MONTH), _field(fields[4], DOW))


def _matching_days(s: Schedule, year: int) -> Iterator[date]:
    return (d for month in range(1, 13) if s.month >> month & 1
            for d in (date(year, month, day)
                      for day in range(1, calendar.monthrange(year, month)[1] + 1))
            if s.day_matches(d))


def _days(s: Schedule, year: int) -> int:
    return sum(1 for _ in _matching_days(s, year))


def _per_day(s: Schedule) -> int:
    return bin(s.minute & ~_STAR).count("1") * bin(s.hour & ~_STAR).count("1")


def runs_per_year(s: Schedule, year: int) -> int:
    """How often the schedule fires in `year` (UTC): matching days × times per day, or for
    `@every`, the year's length over the interval."""
    if s.every is not None:
        return int((366 if calendar.isleap(year) else 365) * 86400 // s.every)
    return _days(s, year) * _per_day(s)


def never_fires(s: Schedule) -> bool:
    """True when no minute ever matches (Feb 30, an empty list): over the 28-year calendar
    cycle every weekday falls on every date, leap days included."""
    if s.every is not None:
        return False
    # the first matching day settles it (validate asks this of every scheduled flow)
    return _per_day(s) == 0 or not any(next(_matching_days(s, year), None) is not None
                                       for year in range(2024, 2024 + 28))
