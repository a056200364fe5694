"""Unit conversion, computed with pint: "Convert 3.5 km to m."

The easy pairs are a power of ten or of sixty apart, single-step problems a small model can learn
to solve; the medium pairs combine two units (km/h to m/s) for realism.
"""

from __future__ import annotations

import functools
import random

import pint

from sciinstruct.generators.base import Draft, family, format_number, pick


@functools.cache
def ureg() -> pint.UnitRegistry:
    """One pint registry for all families (building one takes most of a second)."""
    return pint.UnitRegistry()


# (from, to) as pint parses them; the question shows the same symbols.
EASY_PAIRS = [
    ("km", "m"), ("m", "km"), ("m", "cm"), ("cm", "m"), ("cm", "mm"), ("mm", "cm"),
    ("kg", "g"), ("g", "kg"), ("g", "mg"), ("mg", "g"), ("L", "mL"), ("mL", "L"),
    ("h", "min"), ("min", "s"), ("kJ", "J"), ("J", "kJ"), ("kW", "W"), ("W", "kW"),
    ("A", "mA"), ("mA", "A"),
]  # fmt: skip
MEDIUM_PAIRS = [
    ("km/h", "m/s"), ("m/s", "km/h"), ("h", "s"), ("g/cm^3", "kg/m^3"), ("m^2", "cm^2"),
    ("L", "cm^3"), ("kWh", "MJ"), ("atm", "kPa"),
]  # fmt: skip
# Values with at most two significant figures keep the easy answers exact and short.
EASY_VALUES = [*range(1, 21), 0.5, 1.5, 2.5, 3.5, 4.5, 7.5, 12.5, 25, 40, 75, 120, 250, 500]
MEDIUM_VALUES = [*range(2, 13), 15, 18, 36, 54, 72, 90, 108, 0.8, 1.2, 2.5]


@family(
    "unit_conversion",
    subject="physics",
    difficulty="easy",
    description="convert a quantity between metric prefixes, time units or compound units",
)
def unit_conversion(rng: random.Random) -> Draft:
    medium = rng.random() < 0.25
    src, dst = pick(rng, MEDIUM_PAIRS if medium else EASY_PAIRS)
    value = pick(rng, MEDIUM_VALUES if medium else EASY_VALUES)
    result = ureg().Quantity(value, src).to(dst).magnitude
    # Easy pairs are exact (a power of ten or of sixty); medium ones are rounded to 3 figures.
    answer = format_number(result, sig=6 if not medium else 3)
    shown = format_number(value, sig=6)
    return Draft(
        question=f"Convert {shown} {src} to {dst}.",
        answer=answer,
        unit=dst,
        solution=f"{shown} {src} = {answer} {dst}.",
        difficulty="medium" if medium else "easy",
    )
