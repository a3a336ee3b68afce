"""Pricing: a price left out is 0; an empty `pricing` mapping declares no pricing at all
(no cost.json, `mentatctl cost` says M522), as if it were absent."""

from __future__ import annotations

from fractions import Fraction

from compiler.model import Pricing
from tests.unit.model.conftest import WorkspaceOf


def test_a_price_left_out_is_zero(workspace_of: WorkspaceOf) -> None:
    spec = workspace_of("  pricing: {gpuHour: 3}\n")
    assert spec.pricing == Pricing(cpu_hour=Fraction(0), memory_gib_hour=Fraction(0),
                                   gpu_hour=Fraction(3))


def test_an_empty_pricing_mapping_is_no_pricing(workspace_of: WorkspaceOf) -> None:
    assert workspace_of("  pricing: {}\n").pricing is None

