"""Recompute the reference answer of a question written in an easy family's phrasing.

Hand-written questions that follow the templates ("Convert 3.5 km to m.", "What is 15% of 80?",
Ohm's law, F = m·a, average speed) can be checked by parsing their numbers back out of the text
and recomputing the answer; a wrong reference in the demo's held-out set would make the before/after
figures meaningless. Questions in any other phrasing recompute to None.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sciinstruct.generators.conversions import ureg
from sciinstruct.records import Question

_NUM = r"(-?\d+(?:\.\d+)?)"

# (pattern, what the matched numbers give): each pattern is one phrasing of an easy family.
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], float]]] = [
    (
        re.compile(rf"^Convert {_NUM} (\S+) to (\S+)\.$"),
        lambda m: ureg().Quantity(float(m[1]), m[2]).to(m[3]).magnitude,
    ),
    (re.compile(rf"^What is {_NUM}% of {_NUM}\?$"), lambda m: float(m[1]) * float(m[2]) / 100),
    (
        re.compile(rf"current of {_NUM} A flows through an? {_NUM} Ω resistor"),
        lambda m: float(m[1]) * float(m[2]),
    ),
    (
        re.compile(rf"voltage of {_NUM} V is applied across an? {_NUM} Ω resistor"),
        lambda m: float(m[1]) / float(m[2]),
    ),
    (
        re.compile(rf"current of {_NUM} A flows through a resistor when {_NUM} V"),
        lambda m: float(m[2]) / float(m[1]),
    ),
    (
        re.compile(rf"object of mass {_NUM} kg an acceleration of {_NUM} m/s²"),
        lambda m: float(m[1]) * float(m[2]),
    ),
    (
        re.compile(rf"force of {_NUM} N acts on an object of mass {_NUM} kg"),
        lambda m: float(m[1]) / float(m[2]),
    ),
    (
        re.compile(rf"force of {_NUM} N gives an object an acceleration of {_NUM} m/s²"),
        lambda m: float(m[1]) / float(m[2]),
    ),
    (
        re.compile(rf"(?:travels|covers) {_NUM} k?m in {_NUM} [hs]\b"),
        lambda m: float(m[1]) / float(m[2]),
    ),
]


def recompute(question: Question) -> float | None:
    """The answer implied by the question's own numbers, or None if its phrasing is not known."""
    for pattern, compute in _RULES:
        match = pattern.search(question.question)
        if match:
            return compute(match)
    return None
