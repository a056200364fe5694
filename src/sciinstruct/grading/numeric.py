"""Numbers with units: every common spelling of scientific notation, pint for units, and a
relative tolerance.

Parsing is a handful of anchored regular expressions and `float()`; nothing here evaluates a
string. Units go to pint's own unit parser (a tokenizer, not `eval`), on strings capped at
`_MAX_UNIT_CHARS`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from sciinstruct.grading.text import unwrap_text

_MAX_UNIT_CHARS = 80
_MANTISSA = r"(?P<sign>[-+−]?)\s*(?P<mant>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
# 6.02e23 | 6.02 E+23 | 6.02\times10^{23} | 6.02 x 10^23 | 6.02·10^23 | 6.02*10**23
_EXPONENT = (
    r"(?:\s*[eE]\s*(?P<e1>[-+−]?\d+)"
    r"|\s*(?:\\times|\\cdot|×|·|⋅|\*|x|X)\s*10\s*(?:\^|\*\*)\s*\{?\s*(?P<e2>[-+−]?\d+)\s*\}?)"
)
# A number in any of those spellings, unanchored (`quantities.py` scans running text with it).
NUMBER_PATTERN = rf"{_MANTISSA}(?:{_EXPONENT})?"
_NUMBER = re.compile(rf"^{NUMBER_PATTERN}")
# A bare power of ten: 10^{-3} mol
_POWER_OF_TEN = re.compile(r"^(?P<sign>[-+−]?)\s*10\s*(?:\^|\*\*)\s*\{?\s*(?P<e2>[-+−]?\d+)\s*\}?")
# x =, v_0 \approx, \Delta H =, \Delta G^\circ =: a name of at most two symbols, then = or ≈
_LEADING_ASSIGNMENT = re.compile(
    r"^(?:\\?[A-Za-z][\w{}^]*(?:\\circ\}?)?\s*){1,2}(?:=|≈|\\approx)\s*"
)
# Unit text pint rejects is still fine when it is words ("5 apples"), not when it is math.
_LOOKS_LIKE_MATH = re.compile(r"[\d+\-*/^=\\,()\[\]|!]|^[A-Za-z]$")  # 10!: a factorial
# 1\,000, 1{,}000, 2 500: thin-space, braced-comma and space thousands separators.
_THOUSANDS = re.compile(r"(?<=\d)(?:\\,|\{,\}|\\ |~| |\u202f|\u00a0)(?=\d{3}(?![\d/]))")
# 3,15 kg: a decimal comma (as French, German or Russian text writes it), read as one only when
# a unit follows, since "1,2" alone is as likely a list.
_DECIMAL_COMMA = re.compile(r"^([-+−]?\d+),(\d{1,2}|\d{4,})(?![\d,])\s*(\S.*)$")
# 2 3/4, 5 1/2: a whole number and a proper fraction written apart.
_MIXED_NUMBER = re.compile(r"^([-−])?(\d+)\s+(\d+)\s*/\s*(\d+)(?![\d.,/])")
# 3,15: a decimal comma; alone it is read as one only against a reference that is one number.
# (a word may follow: "12,5 м"; no further digit or comma, which would make it a list).
LONE_DECIMAL_COMMA = re.compile(r"^([-+−]?\d+,(?:\d{1,2}|\d{4,}))(?![\d,])[^\d,]*$")
_APPROX = re.compile(r"^(?:\\approx|≈|~|=)\s*")
# Ways to write "per cent" after a number, once `\text{}` is unwrapped.
_PERCENT = frozenset(["%", "\\%", "percent", "per cent", "pct", "percentage points"])


@dataclass(frozen=True)
class Quantity:
    """A number and the (raw, unparsed) unit text that followed it."""

    value: float
    unit: str  # "" when none
    percent: bool = False


def parse_quantity(text: str) -> Quantity | None:
    """`'6.02\\times10^{23}\\,\\mathrm{mol^{-1}}'` -> Quantity(6.02e23, 'mol^-1').

    Returns None unless the text is a number, optionally followed by unit text. A leading
    `x =` or `\\approx` is dropped. The unit text is not validated here (see `parse_unit`).
    """
    s = strip_assignment(_THOUSANDS.sub("", unwrap_text(text.strip(), " ")))
    comma = _DECIMAL_COMMA.match(s)
    if comma:
        unit = normalize_unit(comma.group(3))
        if parse_unit(unit) is not None:
            return Quantity(float(f"{comma.group(1)}.{comma.group(2)}".replace("−", "-")), unit)
    mixed = _MIXED_NUMBER.match(s)
    if mixed:  # 2 3/4 cups
        sign, whole, num, den = mixed.groups()
        if int(den) == 0:
            return None
        value = (int(whole) + int(num) / int(den)) * (-1 if sign else 1)
        rest = s[mixed.end() :].strip()
        unit = normalize_unit(rest)
        if unit and parse_unit(unit) is None and _LOOKS_LIKE_MATH.search(unit):
            return None
        return Quantity(value, unit)
    match = _POWER_OF_TEN.match(s) or _NUMBER.match(s)
    if match is None:
        return None
    groups = match.groupdict()
    mantissa = (groups.get("mant") or "1").replace(",", "")
    exponent = groups.get("e1") or groups.get("e2") or "0"
    try:
        value = float(f"{mantissa}e{exponent.replace('−', '-')}")
    except (ValueError, OverflowError):
        return None
    if groups["sign"] in ("-", "−"):
        value = -value
    rest = s[match.end() :].strip()
    percent = is_percent(rest)
    unit = "" if percent else normalize_unit(rest)
    if unit and parse_unit(unit) is None and _LOOKS_LIKE_MATH.search(unit):
        return None  # "5x+3", "1/2", "2\\pi", "1, 2": an expression, not a measurement
    return Quantity(value, unit, percent)


def strip_assignment(text: str) -> str:
    """`x = 5 m`, `v_0 \\approx 5 m` and `= 5 m` -> `5 m`."""
    return _APPROX.sub("", _LEADING_ASSIGNMENT.sub("", text))


def is_percent(unit: str | None) -> bool:
    """True for unit text that means per cent: `%`, `\\%`, `percent`, `per cent`."""
    return unit is not None and " ".join(unit.lower().split()) in _PERCENT


_RATIONAL = re.compile(
    r"^(?P<sign>[-+−]?)\s*(?:(?P<whole>\d{1,12})(?:\s+(?=\d{1,12}\s*/)|\s*(?=\\frac)))?"
    r"(?:\\frac\s*\{\s*(?P<n1>\d{1,12})\s*\}\s*\{\s*(?P<d1>\d{1,12})\s*\}"
    r"|\\frac\s*(?P<n2>\d)(?P<d2>\d)|(?P<n3>\d{1,12})\s*/\s*(?P<d3>\d{1,12})"
    r"|(?P<dec>\d{1,12}(?:\.\d{1,12})?))$"
)


def parse_rational(text: str) -> Fraction | None:
    """An exact rational for `3`, `-0.25`, `\\frac{1}{3}`, `\\frac12`, `2/3` or the mixed
    numbers `2 3/4` and `5\\frac{1}{2}`, else None.

    Lets the grader settle the most common exact answers without starting sympy.
    """
    match = _RATIONAL.match(text.strip())
    if match is None:
        return None
    g = match.groupdict()
    if g["dec"] is not None:
        value = Fraction(g["dec"])
    else:
        num, den = next((g[f"n{i}"], g[f"d{i}"]) for i in (1, 2, 3) if g[f"n{i}"] is not None)
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        if g["whole"]:  # a mixed number: 2 3/4 is 11/4
            value += int(g["whole"])
    return -value if g["sign"] in ("-", "−") else value


_UNIT_REWRITES = (
    (re.compile(r"\$"), " "),  # SciBench writes units as math: `$\\mathrm{kJ} \\mathrm{mol}^{-1}$`
    (re.compile(r"\\(?:text|textnormal|textrm|mathrm|rm|operatorname|mbox|mathit)\b"), ""),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?\s*C\b|°\s*C\b|℃"), "degC"),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?\s*F\b|°\s*F\b"), "degF"),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree"), "degree"),
    (re.compile(r"(?:\\mu|μ|µ)\s*"), "u"),
    (re.compile(r"\\Omega|Ω"), "ohm"),
    (re.compile(r"\\AA|Å"), "angstrom"),
    (re.compile(r"\\(?:cdot|times)|·|⋅|×"), "*"),
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),  # \frac{m}{s}
    (re.compile(r"\\[,;: !]|~"), " "),
    (re.compile(r"\^\s*\{\s*([-+−]?\s*[\d.]+)\s*\}"), r"^\1"),
    (re.compile(r"[{}]"), " "),
    (re.compile(r"−"), "-"),
    (re.compile(r"\s+"), " "),
    (re.compile(r" ?\^ ?"), "^"),
)


def normalize_unit(text: str) -> str:
    """LaTeX unit text in pint's spelling: `\\mathrm{m\\,s^{-2}}` -> `m s^-2`."""
    s = text.strip().rstrip(".").strip()
    for pattern, repl in _UNIT_REWRITES:
        s = pattern.sub(repl, s)
    return s.strip()


@lru_cache(maxsize=1)
def registry() -> Any:
    """The shared pint registry (built once: about 0.3 s)."""
    import pint

    return pint.UnitRegistry(cache_folder=None)


@lru_cache(maxsize=4096)
def parse_unit(unit: str) -> Any | None:
    """A pint Unit for normalised unit text, or None when pint does not know it."""
    if not unit or len(unit) > _MAX_UNIT_CHARS or not re.fullmatch(r"[\w\s*/^.()\-+]+", unit):
        return None
    try:
        parsed = registry().parse_units(unit)
    except Exception:  # pint raises many types (UndefinedUnitError, DefinitionSyntaxError, ...)
        return None
    return parsed


def close(pred: float, gold: float, rtol: float, atol: float = 0.0) -> bool:
    """Within `rtol` of the reference or `atol` of it, whichever is looser; a zero reference
    with no `atol` needs a prediction within 1e-12 of zero."""
    if not (math.isfinite(pred) and math.isfinite(gold)):
        return pred == gold
    if gold == 0 and atol == 0:
        return abs(pred) <= 1e-12
    return abs(pred - gold) <= max(rtol * abs(gold), atol)


def compare(
    pred: Quantity,
    gold: Quantity,
    rtol: float,
    exact: bool = False,
    atol: float = 0.0,
    written: tuple[str, str] | None = None,
) -> tuple[bool, str]:
    """Decide whether two quantities agree; units are converted, dimensions must match.

    `exact` asks for equality (whole-number references without units: counts, not measurements).
    `atol` is an absolute tolerance in the reference's unit (a question's own, from metadata).
    `written`, the texts of the answer and the reference when no tolerance was asked for: then
    the reference's written precision decides where it can (`written_precision_match`).
    """
    within = (lambda p, g: p == g) if exact else (lambda p, g: close(p, g, rtol, atol))
    spec = f"rtol={rtol:g}" + (f", atol={atol:g}" if atol else "")
    tol = "exactly" if exact else f"within {spec}"
    off = "exact comparison" if exact else f"outside {spec}"
    if written is not None:
        answer, reference = written
        by_tolerance = within

        def within(p: float, g: float) -> bool:
            by_figures = written_precision_match(answer, p, reference, g)
            return by_tolerance(p, g) if by_figures is None else by_figures

        stated = written_number(reference)
        if stated is not None and stated.decimal and written_number(answer) is None:
            tol = off = "to the precision written"
    if gold.percent or pred.percent:
        return _compare_percent(pred, gold, within, tol, off)
    pred_value, why = pred.value, ""
    if gold.unit and pred.unit:
        converted = _convert(pred, gold.unit)
        if isinstance(converted, str):
            return False, converted
        if converted is not None:
            pred_value, why = converted, f" after converting {pred.unit} to {gold.unit}"
        elif normalize_unit(pred.unit).replace(" ", "") != normalize_unit(gold.unit).replace(
            " ", ""
        ):
            return False, f"units differ: '{pred.unit}' vs '{gold.unit}'"
    if within(pred_value, gold.value):
        return True, f"{pred_value:g} equals {gold.value:g} {tol}{why}"
    return False, f"{pred_value:g} differs from {gold.value:g} ({off}){why}"


def _convert(pred: Quantity, gold_unit: str) -> float | str | None:
    """pred's value in gold's unit; a reason string when the dimensions differ; None if unknown."""
    target, source = parse_unit(gold_unit), parse_unit(pred.unit)
    if target is None:
        return None
    if source is None:
        return f"unit '{pred.unit}' is not a known unit (reference is in {gold_unit})"
    import pint

    ureg = registry()
    try:
        return float(ureg.Quantity(pred.value, source).to(target).magnitude)
    except pint.DimensionalityError:
        return (
            f"incompatible dimensions: {pred.unit} is {source.dimensionality}, "
            f"{gold_unit} is {target.dimensionality}"
        )
    except Exception as exc:  # offset-unit arithmetic and the like
        return f"cannot convert {pred.unit} to {gold_unit}: {type(exc).__name__}"


def _compare_percent(
    pred: Quantity, gold: Quantity, within: Any, tol: str, off: str
) -> tuple[bool, str]:
    # 50% and 0.5 are the same answer; a bare 50 against 50% is too.
    g = gold.value
    candidates = [pred.value]
    if gold.percent and not pred.percent:
        candidates.append(pred.value * 100)
    elif pred.percent and not gold.percent:
        candidates.append(pred.value / 100)
    for candidate in candidates:
        if within(candidate, g):
            return True, f"{candidate:g} equals {g:g} {tol} (percent)"
    return False, f"{pred.value:g} differs from {g:g} ({off}, percent)"


def is_whole_number(text: str) -> bool:
    """A reference such as `42` or `1,000`: compared exactly, since counts are not measured."""
    return re.fullmatch(r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)", text.strip()) is not None


# 10^{-19} J, \times 10^{3}\,\mathrm{kg}: a unit that starts with a power of ten (SciBench).
_UNIT_SCALE = re.compile(
    r"^\s*(?:\\times|×|x)?\s*10\s*\^\s*\{?\s*(?P<e>[-+−]?\d+)\s*\}?\s*(?P<rest>.*)$"
)


def split_unit_scale(unit: str) -> tuple[int, str]:
    """`(exponent, unit)` for a unit written with a power of ten in front: `10^{-19} J` ->
    `(-19, 'J')`; `(0, unit)` when there is none. Math delimiters around it are dropped."""
    bare = unit.replace("$", "").strip()
    match = _UNIT_SCALE.match(bare)
    if match is None:
        return 0, bare
    return int(match.group("e").replace("−", "-")), match.group("rest").strip()


_CLOCK = re.compile(
    r"^(?P<h>\d{1,2})\s*:\s*(?P<m>\d{2})(?:\s*:\s*(?P<s>\d{2}))?"
    r"\s*(?:(?P<ampm>[AaPp])\.?\s*[Mm]\.?)?$"
)


_CLOCK_IN_TEXT = re.compile(
    r"(?<![\d:])\d{1,2}\s*:\s*\d{2}(?:\s*:\s*\d{2})?(?:\s*[AaPp]\.?\s*[Mm]\b\.?)?"
)


def last_clock(text: str) -> str | None:
    """The last time of day written in running text ("The meeting ends at 2:05 PM.")."""
    found = None
    for found in _CLOCK_IN_TEXT.finditer(text):  # noqa: B007 - the last one
        pass
    return found.group(0) if found else None


def clock_seconds(text: str) -> int | None:
    """Seconds after midnight for a time of day: `14:05`, `14:05:00`, `2:05 PM`, else None."""
    match = _CLOCK.match(unwrap_text(text, " ").replace("\\", " ").strip())
    if match is None:
        return None
    hours, minutes = int(match.group("h")), int(match.group("m"))
    seconds = int(match.group("s") or 0)
    ampm = (match.group("ampm") or "").lower()
    if ampm:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if ampm == "p" else 0)
    if hours > 24 or minutes > 59 or seconds > 59:
        return None
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class Written:
    """How precisely a number is written: its last place and significant figures."""

    place: float  # 1e-4 for 0.1667, 1 for 314, 1e21 for 6.02e23
    figures: int
    decimal: bool  # written with a decimal point


def written_number(text: str) -> Written | None:
    """The precision of `text` when it is one number (after `x =` or `\\approx`, before a unit
    or `%`): `0.1667` -> 4 figures to 1e-4; None for anything else (`\\frac{1}{3}`, `0.5\\pi`)."""
    s = strip_assignment(_THOUSANDS.sub("", unwrap_text(text.strip(), " "))).rstrip(". ")
    match = _NUMBER.match(s)
    if match is None:
        return None
    rest = s[match.end() :].strip()
    if rest and not is_percent(rest) and parse_unit(normalize_unit(rest)) is None:
        return None
    mantissa = match.group("mant").replace(",", "")
    whole, _, decimals = mantissa.partition(".")
    exponent = int((match.group("e1") or match.group("e2") or "0").replace("−", "-"))
    figures = len((whole + decimals).lstrip("0")) or 1
    return Written(10.0 ** (exponent - len(decimals)), figures, "." in mantissa)


def written_precision_match(
    pred: str, pred_value: float, gold: str, gold_value: float
) -> bool | None:
    """The labelling rules for an exact value against a decimal when no tolerance was asked
    for, the one place they live. A decimal reference is matched by an exact answer that rounds
    to it at the reference's own precision (sqrt(2)/2 rounds to 0.7, 1/3 to 0.33; ln 2 does not
    round to 0.693150). An exact reference (1/6, pi, 100 pi) is matched by a number correctly
    rounded to at least 3 significant figures (0.167, 3.14, 314; not 0.17 or the truncated
    0.166). None when the caller's tolerance decides: two decimals (9.8 against 9.81, a
    measured constant), a whole-number reference (a count, compared exactly), an exact answer
    against an exact reference."""
    if not (math.isfinite(pred_value) and math.isfinite(gold_value)):
        return None
    reference, answer = written_number(gold), written_number(pred)
    if reference is not None:
        if not reference.decimal or answer is not None:
            return None
        return abs(pred_value - gold_value) <= reference.place / 2 * (1 + 1e-9)
    if answer is None or float(gold_value).is_integer():
        return None
    if abs(pred_value - gold_value) <= 1e-12 * max(1.0, abs(gold_value)):
        return True  # 0.5 is 1/2, however few its figures
    return answer.figures >= 3 and abs(pred_value - gold_value) <= answer.place / 2 * (1 + 1e-9)
