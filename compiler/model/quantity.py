"""Kubernetes resource quantities (`500m`, `256Mi`, `1G`, `1e3`) as exact numbers: one parser
for every stage that reads `resources` (cost estimates, the wasm runner's memory limit)."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

__all__ = ["parse_quantity"]

_SUFFIXES: dict[str, Fraction] = {
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30),
    "Ti": Fraction(2**40), "Pi": Fraction(2**50), "Ei": Fraction(2**60),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 10**3), "": Fraction(1),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9),
    "T": Fraction(10**12), "P": Fraction(10**15), "E": Fraction(10**18),
}
# Kubernetes quantity: signed decimal number, then a binary/decimal SI suffix or an exponent
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?))$"
)


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes quantity (`500m`, `1`, `0.5`, `256Mi`, `1G`, `1e3`) as an exact number."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a quantity: {value!r}")
        return Fraction(str(value))  # the number as written, not its binary approximation
    if not isinstance(value, str):
        raise ValueError(f"not a quantity: {value!r}")
    m = _QUANTITY.match(value.strip())
    if not m:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number = Fraction(m["num"])
    if m["exp"]:
        exp = int(m["exp"][1:])
        if abs(exp) > 30:
            raise ValueError(f"quantity exponent out of range: {value!r}")
        return number * Fraction(10) ** exp
    return number * _SUFFIXES[m["suffix"] or ""]
