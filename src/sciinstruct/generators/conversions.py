"""Unit conversion, computed with pint: "Convert 3.5 km to m."

`unit_conversion`: the easy pairs are a power of ten or of sixty apart; the medium pairs combine
two units (km/h to m/s) for realism. `metric_prefix`: whole numbers across one SI prefix step,
the one family here that SmolLM2-135M learns within the demo's budget (its arithmetic is no
better than appending or removing zeros). Every worked solution states the conversion factor
first, so a model trained on it sees where the answer comes from.
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
    factor = format_number(ureg().Quantity(1, src).to(dst).magnitude, sig=6)
    return Draft(
        question=f"Convert {shown} {src} to {dst}.",
        answer=answer,
        unit=dst,
        solution=f"1 {src} = {factor} {dst}, so {shown} {src} = {shown} × {factor} {dst} "
        f"= {answer} {dst}.",
        difficulty="medium" if medium else "easy",
    )


# (larger unit, smaller unit, how many smaller units make one larger)
PREFIX_STEPS = [
    ("km", "m", 1000), ("m", "cm", 100), ("m", "mm", 1000), ("cm", "mm", 10),
    ("kg", "g", 1000), ("g", "mg", 1000), ("L", "mL", 1000), ("kJ", "J", 1000),
    ("kW", "W", 1000), ("A", "mA", 1000), ("s", "ms", 1000), ("kPa", "Pa", 1000),
]  # fmt: skip


@family(
    "metric_prefix",
    subject="physics",
    difficulty="easy",
    description="convert a whole number across one SI prefix step (7 km to m, 7000 m to km)",
)
def metric_prefix(rng: random.Random) -> Draft:
    large, small, factor = pick(rng, PREFIX_STEPS)
    n = rng.randint(1, 30)
    if rng.random() < 0.5:  # to the smaller unit: append zeros
        question, answer, unit = f"Convert {n} {large} to {small}.", n * factor, small
        solution = f"1 {large} = {factor} {small}, so {n} {large} = {n} × {factor} {small}"
    else:  # to the larger unit: remove zeros
        question, answer, unit = f"Convert {n * factor} {small} to {large}.", n, large
        solution = f"{factor} {small} = 1 {large}, so {n * factor} {small} = {n * factor} ÷ {factor} {large}"
    return Draft(
        question=question, answer=str(answer), unit=unit, solution=f"{solution} = {answer} {unit}."
    )
