"""The hourly price of a replica is exact: cpu, memory and GPUs times their prices."""

from __future__ import annotations

from fractions import Fraction

from compiler.model import Pricing


def test_hourly_is_exact() -> None:
    prices = Pricing(Fraction("0.031"), Fraction("0.004"), Fraction("2.5"))
    # 0.5 x 0.031 + 0.25 x 0.004 + 2 x 2.5, with no rounding anywhere
    assert prices.hourly(Fraction(1, 2), Fraction(1, 4), Fraction(2)) == Fraction("5.0165")
