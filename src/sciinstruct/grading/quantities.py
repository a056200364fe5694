"""Quantities in running text: a number together with the unit written after it.

Small models rarely box their answers; they end with a sentence ("Therefore the force is 6 N.",
"So the result is 7.2 km/h.", "= 3500 meters"). Reading only the last number of such a sentence
loses the unit, so `11 km/h` would pass for `11 m/s` and `9.8 m/s^2` would read as `2`. Here a
number is read with the longest run of unit text after it that pint accepts: compound units
(`m/s^2`, `J/(mol K)`, `kg m/s`, `N·m`), words (`newtons`, `meters per second`) and per cent.

Everything is regular expressions over at most `_WINDOW_CHARS` characters plus pint's cached unit
parser, so it is cheap enough for the in-process path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sciinstruct.grading.lexicon import DEGREE_SIGN, MATH_DELIMITERS, SPACING, word_list
from sciinstruct.grading.numeric import (
    NUMBER,
    Quantity,
    parse_quantity,
    parse_unit,
    strip_assignment,
)

# A final sentence fits in a few hundred characters; scanning only the end keeps a
# 100,000-character answer cheap.
_WINDOW_CHARS = 600
# Unit text longer than this is a sentence, not a unit (pint's parser is capped at 80).
_MAX_UNIT_CHARS = 60

# Where a number may start: not inside a word, a decimal, an exponent or a subscript
# (`H2O`, `m/s^2`, `s^-2`, `10^{-3}`, `v_0`).
_NUMBER_START = re.compile(r"(?<![\w.^_{\\+\-−])(?:[-+−]\s?)?\.?\d")
# One piece of unit text: a word or LaTeX command, a power, a bracket, an operator or a space.
_UNIT_TOKEN = re.compile(
    r"(?P<word>\\%|%|\\[A-Za-z]+|[A-Za-zÀ-ÖØ-öø-ÿµμΩÅ°℃¢\u0400-\u04ff\u4e00-\u9fff]+)"
    rf"|(?P<power>{DEGREE_SIGN}"
    r"|\^\s*\{?\s*[-+−]?\s*\d+(?:\.\d+)?\s*\}?|[²³¹⁰⁻]+)"
    r"|(?P<bracket>[(){}])"
    r"|(?P<op>\s*(?:[/*·⋅×]|\\cdot|\\times)\s*)"
    r"|(?P<space>[ \t]+)"
)
# Words that end a unit even though pint knows them: `12 V in total` is not volt-inches,
# `5 m at rest` not metre-atmospheres, `3 s as well` not second-attoseconds.
_STOP_WORDS = frozenset(
    word_list("a an and are as at be bit by for in is it of on or pi point so the to")
)


@dataclass(frozen=True)
class Found:
    """A quantity read from text, the text it was read from, and where that text ends."""

    quantity: Quantity
    text: str
    end: int


def _tidy(text: str) -> str:
    """Math delimiters and spacing commands are noise around a quantity: `$11\\,\\mathrm{m/s}$`."""
    return SPACING.sub(" ", MATH_DELIMITERS.sub(" ", text))


def _unit_cuts(text: str, start: int) -> list[int]:
    """Places where unit text starting at `start` could end, longest first."""
    cuts: list[int] = []
    pos, depth = start, 0
    while pos < len(text) and pos - start <= _MAX_UNIT_CHARS:
        token = _UNIT_TOKEN.match(text, pos)
        if token is None:
            break
        kind, value = token.lastgroup, token.group(0)
        # "A" is the ampere ("a" the article): `2 A` is a current, `2 a day` is not a unit
        if kind == "word" and value.lower() in _STOP_WORDS and value != "A":
            break
        if kind == "bracket":
            depth += 1 if value in "({" else -1
            if depth < 0:  # a closing bracket the unit did not open: "(about 5 m)"
                break
        pos = token.end()
        if kind in ("word", "power", "bracket") and depth == 0:
            cuts.append(pos)
    return cuts[::-1]


# 2 500 (a space between thousands) and 2 3/4 (a mixed number), as running text writes them.
_SPACED = re.compile(
    r"[-+−]?\d{1,3}(?:[ \u202f\u00a0]\d{3})+(?![\d/]|[.,]\d)|[-+−]?\d+ \d+/\d+(?![\d/.,])"
)


def quantity_at(text: str, start: int) -> Found | None:
    """The number that starts at `text[start]` and the longest unit after it that pint knows
    (or per cent); the bare number when no unit text is known. Running text also writes
    `2 500` (a space between thousands) and `2 3/4` (a mixed number); decimal commas are
    respelt before (`numeric.canonical_numbers`)."""
    written = _SPACED.match(text, start)
    if written is not None:  # 2 500 people, 2 3/4 cups: the bare value
        quantity = parse_quantity(written.group(0))
        if quantity is not None and not quantity.unit:
            return Found(quantity, written.group(0), written.end())
    number = NUMBER.match(text, start)
    if number is None:
        return None
    end = number.end() - number.group(0).endswith(".")  # "then 7.": the period ends a sentence
    digits = text[start:end]
    for cut in _unit_cuts(text, end):
        unit_text = text[end:cut]
        quantity = parse_quantity(digits + " " + unit_text.strip())
        if quantity is not None and (
            quantity.percent or (quantity.unit and parse_unit(quantity.unit) is not None)
        ):
            return Found(quantity, f"{digits}{unit_text}".strip(), cut)
    quantity = parse_quantity(digits)
    return Found(quantity, digits.strip(), end) if quantity is not None else None


def unit_at(text: str) -> str | None:
    """The unit pint knows that `text` opens with, past math delimiters (`$ m.` -> `m`), else
    None."""
    tidy = _tidy(text)
    start = len(tidy) - len(tidy.lstrip())
    for cut in _unit_cuts(tidy, start):
        quantity = parse_quantity("1 " + tidy[start:cut].strip())
        if quantity is not None and quantity.unit and parse_unit(quantity.unit) is not None:
            return quantity.unit
    return None


def leading_quantity(text: str) -> Found | None:
    """The quantity an answer opens with (`11 m/s because ...`, `v = 11 m/s, so`), or that ends
    the chain of relations it opens (`21 A = 21000 mA`: see `numeric.last_side`), when it has a
    unit pint knows or is per cent; None otherwise."""
    tidy = strip_assignment(_tidy(text).strip())
    if not tidy or _NUMBER_START.match(tidy) is None:
        return None
    found = quantity_at(tidy, 0)
    if found is None or not (found.quantity.unit or found.quantity.percent):
        return None
    return found


def last_quantity(text: str) -> Found | None:
    """The last quantity written in `text`, with its unit when pint knows it.

    Numbers are read left to right so a unit's own digits (`s^2`, `10^{-3}`) are consumed by
    the quantity they belong to and never taken for the answer.
    """
    window = text[-_WINDOW_CHARS:]
    if len(text) > _WINDOW_CHARS:  # do not start in the middle of a number
        window = window[min(len(window), window.find(" ") + 1) :] if " " in window else window
    window = _tidy(window)
    last, pos = None, 0
    for match in _NUMBER_START.finditer(window):
        if match.start() < pos:
            continue
        found = quantity_at(window, match.start())
        if found is not None:
            last, pos = found, found.end
    return last


def all_quantities(text: str) -> list[Found]:
    """Every quantity with a unit written in `text` (a question's givens), in order."""
    tidy = _tidy(text)
    found: list[Found] = []
    pos = 0
    for match in _NUMBER_START.finditer(tidy):
        if match.start() < pos:
            continue
        quantity = quantity_at(tidy, match.start())
        if quantity is not None:
            pos = quantity.end
            if quantity.quantity.unit:
                found.append(quantity)
    return found
