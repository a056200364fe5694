"""Numbers with units: every common spelling of scientific notation, pint for units, and a
relative tolerance.

Parsing is a handful of anchored regular expressions and `float()`; nothing here evaluates a
string. Units go to pint's own unit parser (a tokenizer, not `eval`), on strings capped at
`_MAX_UNIT_CHARS`.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from sciinstruct.grading.lexicon import (
    APPROX_SIGN,
    DEGREE_SIGN,
    LATEX_COMMAND,
    SPACING,
    Rewrite,
    last_match,
    rewrite,
    substitutions,
    word_list,
)
from sciinstruct.grading.text import unwrap_text

_MAX_UNIT_CHARS = 80
_MANTISSA = r"(?P<sign>[-+−]?)\s*(?P<mant>(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
# 6.02e23 | 6.02 E+23 | 6.02\times10^{23} | 6.02 x 10^23 | 6.02·10^23 | 6.02*10**23
_EXPONENT = (
    r"(?:\s*[eE]\s*(?P<e1>[-+−]?\d+)"
    r"|\s*(?:\\times|\\cdot|×|·|⋅|\*|x|X)\s*10\s*(?:\^|\*\*)\s*\{?\s*(?P<e2>[-+−]?\d+)\s*\}?)"
)
# A number in any of those spellings, unanchored (`quantities.py` scans running text with it).
NUMBER_PATTERN = rf"{_MANTISSA}(?:{_EXPONENT})?"
# One compiled copy for every module that reads numbers (`.match` anchors it at the start).
NUMBER = re.compile(NUMBER_PATTERN)
# x = 5, \Delta G^\circ \approx, v = \sqrt{2gh} = 13 m/s, T \cong 130 min: a chain of relations
# (and the brackets, operators and separators that hide or end one); its last side is the value.
_RELATION = re.compile(
    rf"(?P<approx>{APPROX_SIGN})|(?<![<>!])="
    r"|(?P<open>[{(\[])|(?P<close>[})\]])|(?P<sep>(?<!\\)[,;]|\\q?quad\b|\b(?:and|or)\b)|(?P<op>[+\-−])"
)
# Unit text pint rejects is still fine when it is words ("5 apples"), not when it is math.
_LOOKS_LIKE_MATH = re.compile(r"[\d+\-*/^=\\,()\[\]|!]|^[A-Za-z]$")  # 10!: a factorial
# 1\,000, 1{,}000, 2 500: thin-space, braced-comma and space thousands separators.
_THOUSANDS = re.compile(r"(?<=\d)(?:\\,|\{,\}|\\ |~| |\u202f|\u00a0)(?=\d{3}(?![\d/]))")
# How a quantity opens, its shapes tried in this order: a whole number and a proper fraction
# written apart (`mixed`: 2 3/4, 5 1/2), a bare power of ten (`ten`: 10^{-3} mol), a number.
_OPENING_NUMBER = re.compile(
    r"(?P<mixed>(?P<minus>[-−])?(?P<whole>\d+)\s+(?P<num>\d+)\s*/\s*(?P<den>\d+)(?![\d.,/]))"
    r"|(?P<ten_sign>[-+−]?)\s*10\s*(?:\^|\*\*)\s*\{?\s*(?P<ten>[-+−]?\d+)\s*\}?"
    rf"|{NUMBER_PATTERN}"
)
_MATH_DOLLAR = re.compile(r"(?<!\\)\$")
_APPROX_MARKS = ("\\approx", "≈", "~", "=")
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
    s = _MATH_DOLLAR.sub(" ", unwrap_text(text.strip(), " "))  # "$125$ miles"
    s = strip_assignment(_THOUSANDS.sub("", s.strip()))
    match = _OPENING_NUMBER.match(s)
    if match is None:
        return None
    if match["mixed"]:  # 2 3/4 cups
        whole, num, den = int(match["whole"]), int(match["num"]), int(match["den"])
        if den == 0:
            return None
        value = (whole + num / den) * (-1 if match["minus"] else 1)
        rest = s[match.end() :].strip()
        unit = normalize_unit(rest)
        if unit and parse_unit(unit) is None and _LOOKS_LIKE_MATH.search(unit):
            return None
        return Quantity(value, unit)
    mantissa = (match["mant"] or "1").replace(",", "")
    exponent = match["e1"] or match["e2"] or match["ten"] or "0"
    try:
        value = float(f"{mantissa}e{exponent.replace('−', '-')}")
    except (ValueError, OverflowError):
        return None
    if (match["sign"] or match["ten_sign"]) in ("-", "−"):
        value = -value
    rest = s[match.end() :].strip()
    percent = is_percent(rest)
    unit = "" if percent else normalize_unit(rest)
    if unit and parse_unit(unit) is None and _LOOKS_LIKE_MATH.search(unit):
        return None  # "5x+3", "1/2", "2\\pi", "1, 2": an expression, not a measurement
    return Quantity(value, unit, percent)


def strip_assignment(text: str) -> str:
    """`x = 5 m`, `v_0 \\approx 5 m`, `= 5 m` and `v = \\sqrt{2gh} = 5 m` -> `5 m`."""
    side = last_side(text)
    for mark in _APPROX_MARKS:
        if side.startswith(mark):
            return side[len(mark) :].lstrip()
    return side


def last_side(text: str, evaluated: bool = False) -> str:
    """The value a chain of relations ends with (`=`, `\\approx`, `\\cong`, `≈`, outside
    brackets): `E = \\frac{q}{C} = 2.5 \\mathrm{~V}` -> `2.5 \\mathrm{~V}`. `text` itself when
    it is no chain, when a comma, semicolon, "and" or "or" comes before its last relation
    (`x = 1, y = 2`: two values), when it is a sentence (`8g is 8 * 100 = 800mg`) or an equation
    (`x^2 + y^2 = 9`: two sides, an exact relation, a sum or difference on the left).
    `evaluated` asks for a computed result only: a chain of three sides or more, or an
    approximation (`S = 25000(e^{3.2}-1) \\approx 588.3`), not `x = 5`."""
    depth, cut, sides, separated, summed, approx = 0, -1, 1, False, False, False
    for match in _RELATION.finditer(text):
        if match.group("open"):
            depth += 1
        elif match.group("close"):
            depth = max(0, depth - 1)
        elif depth > 0:
            continue
        elif match.group("sep"):
            separated = True
        elif match.group("op"):
            summed = summed or (sides == 1 and bool(text[: match.start()].strip()))
        elif separated:
            return text
        else:
            cut, sides = match.end(), sides + 1
            approx = approx or bool(match.group("approx"))
    if cut < 0 or (sides == 2 and (summed or evaluated) and not approx):
        return text
    bare = LATEX_COMMAND.sub(" ", text)  # `\\approx` and every other command gone
    first = bare[: min((i for i in map(bare.find, "=≈≃≅") if i >= 0), default=len(bare))]
    words = list(_WORD.finditer(first))
    if any(w["prose"] for w in words) or sum(len(w[0]) >= 3 for w in words) > 1:
        return text  # "8g is 8 * 100 = 800mg", "She spent 3 x 4 = 12": a sentence, not a chain
    return text[cut:].strip()


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


# Unit words as other languages write them: "2,5 т", "0,5 litros", "3 Stunden", "5 米".
_UNIT_WORDS = {
    # finance's basis points (pint's `bp` is the typographer's big point, a length)
    **dict.fromkeys(["bp", "bps", "BP", "bips"], "basis_point"),
    **{"т": "t", "кг": "kg", "г": "g", "мг": "mg", "м": "m", "км": "km", "см": "cm", "мм": "mm"},
    **{"с": "s", "сек": "s", "мин": "min", "ч": "h", "л": "L", "мл": "mL", "моль": "mol"},
    **{"Дж": "J", "кДж": "kJ", "Вт": "W", "кВт": "kW", "Н": "N", "Па": "Pa", "кПа": "kPa"},
    **{"В": "V", "А": "A", "Ом": "ohm", "Гц": "Hz", "К": "K"},
    **dict.fromkeys(["metros", "mètres", "mètre", "metri", "Meter", "Metern"], "m"),
    **dict.fromkeys(["kilómetros", "kilómetro", "kilomètres", "kilomètre", "Kilometer"], "km"),
    **dict.fromkeys(["quilômetros", "chilometri"], "km"),
    **dict.fromkeys(["centímetros", "centimètres", "Zentimeter", "centimetri"], "cm"),
    **dict.fromkeys(["gramos", "gramo", "grammes", "Gramm", "grammi", "gramas"], "g"),
    **dict.fromkeys(["kilogramos", "kilogrammes", "Kilogramm", "chilogrammi", "quilos"], "kg"),
    **dict.fromkeys(["litros", "litro", "litres", "Liter", "litri"], "L"),
    **dict.fromkeys(["mililitros", "millilitres", "Milliliter", "millilitri"], "mL"),
    **dict.fromkeys(["segundos", "segundo", "secondes", "Sekunden", "Sekunde", "secondi"], "s"),
    **dict.fromkeys(["minutos", "Minuten", "minuti"], "min"),
    **dict.fromkeys(["horas", "hora", "heures", "heure", "Stunden", "Stunde"], "h"),
    **dict.fromkeys(["días", "dias", "jours", "Tage", "Tagen", "giorni"], "day"),
    **dict.fromkeys(["años", "anos", "années", "Jahre", "Jahren", "anni"], "year"),
    **{"米": "m", "千米": "km", "公里": "km", "厘米": "cm", "毫米": "mm", "千克": "kg"},
    **{"公斤": "kg", "克": "g", "秒": "s", "分钟": "min", "小时": "h", "升": "L", "毫升": "mL"},
}
_UNIT_REWRITES: tuple[Rewrite, ...] = (
    str.maketrans({"$": " "}),  # SciBench writes units as math: `$\\mathrm{kJ} \\mathrm{mol}^{-1}$`
    substitutions(
        (r"\\(?:text|textnormal|textrm|mathrm|rm|operatorname|mbox|mathit)\b", ""),
        (rf"(?:{DEGREE_SIGN}|°)\s*C\b|℃", "degC"),
        (rf"(?:{DEGREE_SIGN}|°)\s*F\b", "degF"),
        (rf"{DEGREE_SIGN}|°|\\degree", "degree"),
        (r"(?:\\mu|μ|µ)\s*", "u"),
        (r"\\Omega|Ω", "ohm"),
        (r"\\AA|Å", "angstrom"),
        (r"\bAU\b", "au"),  # pint's AU is the absorbance unit; answers mean the distance
    ),
    str.maketrans({"¢": " cent"}),  # after `µ\s*`, which would eat its space
    substitutions(
        (r"[^\W\d_]+", lambda m: _UNIT_WORDS.get(m.group(0), m.group(0))),
        (r"\\(?:cdot|times)|·|⋅|×", "*"),
    ),
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),  # \frac{m}{s}
    substitutions(
        (SPACING.pattern, " "),
        (r"\^\s*\{\s*[-+−]?\s*[\d.]+\s*\}", lambda m: "^" + m.group(0)[1:].strip()[1:-1].strip()),
    ),
    str.maketrans({"{": " ", "}": " ", "−": "-"}),
    substitutions((r"\s*\^\s*", "^"), (r"\s+", " ")),
)


def normalize_unit(text: str) -> str:
    """LaTeX unit text in pint's spelling: `\\mathrm{m\\,s^{-2}}` -> `m s^-2`."""
    s = _SUPERSCRIPTS.sub(_superscript, text.strip().rstrip(".").strip())  # m², s⁻¹
    if _names_si_unit(s):  # \si{\kilo\joule\per\mole}, unwrapped or not
        s = siunitx_unit(unwrap_text(s))
    return rewrite(s, _UNIT_REWRITES).strip()


_REGISTRY: list[Any] = []
_REGISTRY_LOCK = threading.Lock()


def registry() -> Any:
    """The shared pint registry (built once: about 0.3 s). Built under a lock: threads that
    grade at once (eval's workers) would otherwise each build one, and a unit `parse_unit`
    cached from one cannot meet a quantity of the other ("Unit of different registries")."""
    if not _REGISTRY:
        with _REGISTRY_LOCK:
            if not _REGISTRY:
                _REGISTRY.append(_build_registry())
    return _REGISTRY[0]


def _build_registry() -> Any:
    import pint

    ureg = pint.UnitRegistry(cache_folder=None)
    # money, so that 25¢ is $0.25 (other currencies stay unknown words: 5 euros is not $5)
    ureg.define("dollar = [currency] = _ = dollars = USD")
    ureg.define("cent = 0.01 dollar = _ = cents")
    ureg.define("basis_point = 1e-4 = _ = basis_points")
    return ureg


@lru_cache(maxsize=4096)
def parse_unit(unit: str) -> Any | None:
    """A pint Unit for normalised unit text, or None when pint does not know it."""
    if not unit or len(unit) > _MAX_UNIT_CHARS or not re.fullmatch(r"[\w\s*/^.()\-+]+", unit):
        return None
    try:
        return registry().parse_units(unit)
    except Exception:  # pint raises many types (UndefinedUnitError, DefinitionSyntaxError, ...)
        return None


def unglue(unit: str) -> str:
    """A reference's unit with the units SciBench glues together read apart: `Jmol^-1 K^-1` ->
    `J mol^-1 K^-1`. Only for references: in an answer, a word pint cannot read is a word."""
    if parse_unit(unit) is not None:
        return unit
    return re.sub(r"[A-Za-z]{2,}", _unglue, unit)


def _unglue(match: re.Match[str]) -> str:
    word = match.group(0)
    if parse_unit(word) is not None:
        return word
    for cut in range(1, len(word)):
        if parse_unit(word[:cut]) is not None and parse_unit(word[cut:]) is not None:
            return f"{word[:cut]} {word[cut:]}"
    return word


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
            by_figures = written_precision_match(answer, p, reference, g, measured=not exact)
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


def _ratio_in(value: float, unit: str | None, target: str | None) -> float | None:
    """`value` `unit` in `target` when both are dimensionless units pint knows (37 bp is
    0.37 percent); None otherwise."""
    source, goal = parse_unit(unit or ""), parse_unit(target or "")
    if source is None or goal is None or not (source.dimensionless and goal.dimensionless):
        return None
    return float(registry().Quantity(value, source).to(goal).magnitude)


def _compare_percent(
    pred: Quantity, gold: Quantity, within: Any, tol: str, off: str
) -> tuple[bool, str]:
    # 50% and 0.5 are the same answer; a bare 50 against 50% is too.
    g = gold.value
    candidates: list[float | None] = [pred.value]
    if gold.percent and not pred.percent:
        candidates += [pred.value * 100, _ratio_in(pred.value, pred.unit, "percent")]  # 37 bp
    elif pred.percent and not gold.percent:
        candidates += [pred.value / 100, _ratio_in(pred.value, "percent", gold.unit)]  # vs 37 bp
    for candidate in (c for c in candidates if c is not None):
        if within(candidate, g):
            return True, f"{candidate:g} equals {g:g} {tol} (percent)"
    return False, f"{pred.value:g} differs from {g:g} ({off}, percent)"


# "grew by a factor of 0.125", "a 1.5-fold increase": a ratio, which a percentage is not
_FACTOR = re.compile(
    r"(?i)\b(?:by\s+a\s+factor\s+of|multiplied\s+by)\s+\$?[-+]?\d[\d.,]*\$?\s*[.!]?\s*$"
    r"|\d\s*-?\s*fold\b[^.\d]*[.!]?\s*$"
)


def states_factor(text: str) -> bool:
    """True when `text` ends stating its value as a factor ("grew by a factor of 0.125"): a
    ratio, not the fraction a percentage could be written as."""
    return _FACTOR.search(text[-_FACTOR_CHARS:]) is not None


_FACTOR_CHARS = 200


def is_whole_number(text: str) -> bool:
    """A reference such as `42`, `1,000` or LaTeX's `10{,}000`: compared exactly, since counts
    are not measured."""
    return re.fullmatch(r"[-+−]?(?:\d{1,3}(?:(?:,|\{,\})\d{3})+|\d+)", text.strip()) is not None


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


# A time of day: 14:05, 14:05:00, 2:05 PM, 2:05 p.m. (the whole text, or in running text).
_CLOCK = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2})\s*:\s*(?P<m>\d{2})(?:\s*:\s*(?P<s>\d{2}))?"
    r"(?:\s*(?P<ampm>[AaPp])\.?\s*[Mm]\b\.?)?"
)


def last_clock(text: str) -> str | None:
    """The last time of day written in running text ("The meeting ends at 2:05 PM.")."""
    found = last_match(_CLOCK, text)
    return found.group(0) if found else None


def clock_seconds(text: str) -> int | None:
    """Seconds after midnight for a time of day: `14:05`, `14:05:00`, `2:05 PM`, else None."""
    match = _CLOCK.fullmatch(unwrap_text(text, " ").replace("\\", " ").strip())
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
    trailing_zeros: int = 0  # of a whole number (2940000: 4), which may or may not be figures


def written_number(text: str) -> Written | None:
    """The precision of `text` when it is one number (after `x =` or `\\approx`, before a unit
    or `%`): `0.1667` -> 4 figures to 1e-4; None for anything else (`\\frac{1}{3}`, `0.5\\pi`)."""
    s = strip_assignment(_THOUSANDS.sub("", unwrap_text(text.strip(), " "))).rstrip(". ")
    match = NUMBER.match(s)
    if match is None:
        return None
    rest = s[match.end() :].strip()
    if rest and not is_percent(rest) and parse_unit(normalize_unit(rest)) is None:
        return None
    mantissa = match.group("mant").replace(",", "")
    whole, _, decimals = mantissa.partition(".")
    exponent = int((match.group("e1") or match.group("e2") or "0").replace("−", "-"))
    figures = len((whole + decimals).lstrip("0")) or 1
    zeros = 0 if "." in mantissa else min(len(whole) - len(whole.rstrip("0")), figures - 1)
    return Written(10.0 ** (exponent - len(decimals)), figures, "." in mantissa, zeros)


# Significant figures from which a number written against a decimal reference is read at its
# written place rather than within the default 1% (`written_precision_match`)
_MANY_FIGURES = 5


def written_precision_match(
    pred: str, pred_value: float, gold: str, gold_value: float, measured: bool = False
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
        rounds = abs(pred_value - gold_value) <= reference.place / 2 * (1 + 1e-9)
        if answer is None and reference.decimal:
            return rounds
        if (
            answer is not None
            and measured
            and rounds
            and not reference.decimal
            and reference.figures >= 2
        ):
            # a measured whole number (12 m/s^2) is met by what rounds to it (12.3), as a
            # decimal reference is; two decimals are otherwise left to the tolerance (9.8
            # against 9.81), and so is a one-figure reference (5 kg against 5.4 kg)
            return True
        if answer is not None and reference.decimal and reference.figures >= _MANY_FIGURES:
            # a decimal of many figures against one (2944942 against 2944943.75): each claims
            # more precision than 1% would grant, so they agree only at the coarser place; an
            # answer's trailing zeros (2940000) claim none and leave it to the tolerance
            zeros = answer.trailing_zeros
            if answer.figures - zeros >= _MANY_FIGURES:
                coarser = max(reference.place, answer.place * 10.0**zeros)
                return abs(pred_value - gold_value) <= coarser / 2 * (1 + 1e-9)
        return None
    if answer is None or float(gold_value).is_integer():
        return None
    if abs(pred_value - gold_value) <= 1e-12 * max(1.0, abs(gold_value)):
        return True  # 0.5 is 1/2, however few its figures
    return answer.figures >= 3 and abs(pred_value - gold_value) <= answer.place / 2 * (1 + 1e-9)


# --- Numbers as written in other conventions ----------------------------------------------
# German, Spanish, French, Italian, Portuguese and Russian write a decimal comma and group
# thousands with points, spaces or (Swiss) apostrophes: "1.250 Euro", "2 500,75 €", "0,125".
# The response's language decides how its separators are read; a few frequent function words
# (and Cyrillic letters) tell it, no language model needed.

# A word of two letters or more, not a LaTeX command (`\\text`) nor a variable (`y`); `prose`
# when it is a whole function word, which makes a text a sentence ("8g is 8 * 100 = 800mg").
_WORD = re.compile(
    r"(?<![\\\w])(?:(?P<prose>(?i:is|are|was|so|we|get|gets|gives|the|then|thus|hence|therefore"
    r"|which|equals|of|to|ist|est|es|это))(?!\w)|[^\W\d_]{2,})"
)
_DECIMAL_COMMA_WORDS = frozenset(
    word
    for language in (
        "der die das den dem des ist sind und ein eine mit für von beträgt gibt nicht auf zu also "
        "antwort ergebnis wert gleich insgesamt jeder jede jedes zahlt kostet kosten bekommt "
        "erhält sie wir noch nach bei",  # German
        "el la los las es son que con para por una del como hay entonces respuesta resultado "
        "valor igual tiene cada paga cuesta cuestan recibe",  # Spanish
        "le les est sont et une des du pour avec il qu au donc reste réponse résultat valeur "
        "égal chaque paie coûte coûtent reçoit",  # French
        "di che sono della quindi risposta risultato uguale ogni costa paga",  # Italian
        "um uma não são portanto resposta igual tem custa",  # Portuguese
    )
    for word in language.split()
)
_DECIMAL_POINT_WORDS = frozenset(
    word
    for english in (
        "the is and of to so we that are this for with be by it at as then thus therefore",
        "which has have from answer result equals total each every pays costs gets",
    )
    for word in english.split()
)
_LANGUAGE_SAMPLE_CHARS = 3000


def writes_decimal_comma(text: str) -> bool:
    """True when `text` is written in a language that uses a decimal comma (its words are more
    often German, Spanish, French, Italian, Portuguese function words than English ones, or
    it is in Cyrillic)."""
    sample = text[-_LANGUAGE_SAMPLE_CHARS:]
    # Cyrillic (`max` first: most text has no character that far up)
    if sample and max(sample) >= "\u0400" and any("\u0400" <= c <= "\u04ff" for c in sample):
        return True
    # "Jeder Gast zahlt 1.250 €.": a short sentence has few function words, so a currency
    # written after its amount and accented words count too
    lowered = sample.lower()
    words = [word[0] for word in _WORD.finditer(lowered)]
    point = sum(map(_DECIMAL_POINT_WORDS.__contains__, words))
    comma = len(_AMOUNT_THEN_CURRENCY.findall(sample))
    if _ACCENTED.isdisjoint(lowered):  # no accented word: only the function words count
        return comma + sum(map(_DECIMAL_COMMA_WORDS.__contains__, words)) > point
    accented = _ACCENTED.isdisjoint
    return comma + sum(w in _DECIMAL_COMMA_WORDS or not accented(w) for w in words) > point


# "1.250 €", "1.250 euros", "3,50 EUR": English writes the currency first (€1,250).
_AMOUNT_THEN_CURRENCY = re.compile(r"\d\s*(?:€|(?i:euros?|eur|chf)\b)")
_ACCENTED = frozenset("äöüßñáéíóúàèìòùâêîôûçãõ")


# No digit or separator-and-digit may touch a written number on either side.
# (written after the first digit, so that the regex engine can skip ahead to a digit)
_FIRST_DIGIT = r"[1-9](?<![\d.,'’][1-9])"
_AFTER = r"(?![\d'’]|[.,]\d)"
# Thousands grouped by points (1.234.567, 4.000,00), spaces (2 500,75) or, as the Swiss write
# them, apostrophes (1'234'567); `_ungrouped` decides by the language which ones it reads.
_GROUPED = re.compile(
    rf"{_FIRST_DIGIT}\d{{0,2}}(?:(?P<point>(?:\.\d{{3}})+(?:,\d+)?)"
    rf"|(?P<space>(?:[ \u00a0\u202f]\d{{3}})+(?:,\d+)?)|(?P<apostrophe>(?:['’]\d{{3}})+)){_AFTER}"
)
# 0,125 and 2,5 in a decimal-comma language, 3,15 and 2,5 in any (a comma before one, two or
# four and more digits groups no thousands: `_decimal_comma`); not a list (1,2,3) or a pair in
# brackets ((1,5)).
_COMMA_DECIMAL = re.compile(r"(\d(?<![\d.,(\[{]\d)\d*),(\d+)(?![\d'’]|,\d|\s*[)\]}])")
# Numbers as LaTeX and plain text spell them, respelt in one pass (`_respelt`): LaTeX's {,}
# (0{,}95 is a decimal comma; 588{,}313 groups thousands outside a comma language), an exponent
# in a font (6.022\mathrm{e}23, 1.6\text{E-}19), a bare decimal (.59 is 0.59, but not after a
# word, a digit or a closing bracket: "eq.5", "3.5").
_SPELLINGS = re.compile(
    r"(?<=\d)\{,\}(?=(?P<decimals>\d+))"
    r"|(?<=\d)\s*\\(?:mathrm|text|rm|mathit)\s*\{\s*[eE]\s*(?P<sign>[-+−]?)\s*\}\s*\{?\s*"
    r"(?P<exponent>[-+−]?\d+)\}?"
    r"|(?P<bare>\.(?<![\w.,)\]}\\]\.)(?=\d))"
)
# 7\frac{1}{2} (hours): a mixed number, when nothing multiplies on after it.
_MIXED_FRAC = re.compile(
    r"(?<![\d.^_{])(\d+)\s*\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}"
    r"(?=\s*(?:$|[$.,;:)}]|\s+[^\W\d]))"
)
# 3.5 million, 350 万, \boxed{358.8}$ thousand: scale words multiply the number before them.
_SCALES: dict[str, int] = {
    **dict.fromkeys(["thousand", "thousands", "тыс"], 3),
    **dict.fromkeys(
        ["million", "millions", "millionen", "millón", "millones", "milione", "milioni"], 6
    ),
    **dict.fromkeys(["milhão", "milhões", "миллион", "миллиона", "миллионов", "млн"], 6),
    **dict.fromkeys(["milliard", "milliards", "milliarde", "milliarden", "млрд"], 9),
    **dict.fromkeys(["миллиард", "миллиарда", "миллиардов", "billion", "billions"], 9),
    **dict.fromkeys(["trillion", "trillions"], 12),
}
# In a decimal-comma language a billion is 10^12 (Billion, billón, billion in French).
_LONG_SCALES = dict.fromkeys(["billion", "billions", "billionen", "billón", "billones"], 12)
_CJK_SCALES = {"百万": 6, "千万": 7, "万": 4, "亿": 8}
_SCALE_WORDS = sorted({*_SCALES, *_LONG_SCALES}, key=len, reverse=True)
_SCALE = re.compile(
    r"(?:(?P<pre>\\boxed\s*\{\s*)|(?<![\d.^_{]))(?P<num>\d+(?:\.\d+)?)"
    r"(?P<close>(?(pre)\s*\}|))(?P<dollar>\s*\$)?\s*"
    rf"(?:(?P<word>{'|'.join(map(re.escape, _SCALE_WORDS))})(?![^\W\d_])"
    rf"|(?P<cjk>{'|'.join(_CJK_SCALES)}))",
    re.IGNORECASE,
)


def canonical_numbers(text: str, scales: bool = True) -> str:
    """`text` with its numbers in the one spelling the rest of the grader reads: a decimal
    point, no thousands separators that could be misread (`1.250 Euro` in German is `1250`,
    `0,125` in Russian `0.125`, `1'234'567` is `1234567`), `6.022\\mathrm{e}23` as `6.022e23`,
    `.59` as `0.59`, a mixed number `7\\frac{1}{2}` as `7.5` (or an improper fraction) and,
    with `scales`, `3.5 million` as `3500000`."""
    comma = writes_decimal_comma(text)
    s = text
    s = _GROUPED.sub(lambda m: _ungrouped(m, comma), s)
    if comma or "," in s:
        s = _COMMA_DECIMAL.sub(lambda m: _decimal_comma(m, comma), s)
    s = _SPELLINGS.sub(lambda m: _respelt(m, comma), s)
    s = _SUPERSCRIPTS.sub(_superscript, s)
    if not _VULGAR_OR_SLASH.isdisjoint(s):
        s = _UNICODE_FRACTION.sub(_unicode_fraction, _VULGAR.sub(_vulgar, s))
    if "\\SI" in s or "\\qty" in s:
        s = _SIUNITX.sub(lambda m: f"{m.group(1)}\\,\\mathrm{{{siunitx_unit(m.group(2))}}}", s)
    if "frac" in s:
        s = _MIXED_FRAC.sub(_mixed, s)
    if scales and names_scale(s):  # a quick search first: the substitution is the costly pass
        s = _SCALE.sub(lambda m: _scaled(m, comma), s)
    return s


# 10⁻¹⁹, m·s⁻¹, m²: Unicode superscripts are a power.
_SUPERSCRIPTS = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")


# ½, −¾, 12¾ and the fraction slash of 12 3⁄5: a fraction as Unicode writes it.
_VULGAR_FRACTIONS = {"½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5"}
_VULGAR_FRACTIONS |= {"⅖": "2/5", "⅗": "3/5", "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅛": "1/8"}
_VULGAR_FRACTIONS |= {"⅜": "3/8", "⅝": "5/8", "⅞": "7/8", "⅐": "1/7", "⅑": "1/9", "⅒": "1/10"}
_VULGAR = re.compile(rf"(\d?)([{''.join(_VULGAR_FRACTIONS)}])")
_VULGAR_OR_SLASH = frozenset("⁄" + "".join(_VULGAR_FRACTIONS))
# after the glyphs are spelt out: 3⁄5, and the mixed number 12 3⁄5 (12¾ is 12 3⁄4)
_UNICODE_FRACTION = re.compile(r"(?<![\d.])(?:(\d+)\s*)?(\d+)⁄(\d+)(?!\d|\.\d)")


def _vulgar(match: re.Match[str]) -> str:
    whole = f"{match.group(1)} " if match.group(1) else ""
    return whole + _VULGAR_FRACTIONS[match.group(2)].replace("/", "⁄")


def _unicode_fraction(match: re.Match[str]) -> str:
    whole, num, den = match.groups()
    if whole is None or int(den) == 0:
        return f"{num}/{den}"
    return _mixed_value(int(whole), int(num), int(den)) or match.group(0).replace("⁄", "/")


def _superscript(match: re.Match[str]) -> str:
    return f"^{{{match.group(0).translate(_SUPERSCRIPT_DIGITS)}}}"


# siunitx: \SI{9.8}{\meter\per\second\squared}, \qty{5}{kg}
_SIUNITX = re.compile(r"\\(?:SI|qty)\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
# The siunitx macros that make unit text siunitx's (`\kilo\joule\per\mole`).
_SI_UNIT_MACROS = frozenset(
    word_list(
        "per squared cubed kilo milli micro nano mega giga centi meter metre second gram joule "
        "newton watt pascal kelvin mole ampere volt hertz litre liter electronvolt coulomb tesla "
        "celsius degreeCelsius"
    )
)
_SI_PREFIXES = {
    **{"kilo": "k", "milli": "m", "micro": "u", "nano": "n", "pico": "p", "femto": "f"},
    **{"centi": "c", "deci": "d", "mega": "M", "giga": "G", "tera": "T"},
}
# One token of siunitx unit text: a macro (all the letters after a `\`) or the text up to one.
_SI_MACRO = re.compile(r"\\([A-Za-z]+)|([^\\]+)")


def _names_si_unit(text: str) -> bool:
    """Whether `text` holds one of siunitx's unit macros (`\\si{\\kilo\\joule\\per\\mole}`)."""
    return "\\" in text and any(m in _SI_UNIT_MACROS for m, _ in _SI_MACRO.findall(text))


def siunitx_unit(unit: str) -> str:
    """siunitx's unit macros in pint's spelling: `\\kilo\\gram\\per\\metre\\cubed` ->
    `kgram / metre^3`; a unit written out (`m/s^2`) is kept."""
    out: list[str] = []
    prefix, power_next = "", ""
    for macro, literal in _SI_MACRO.findall(unit):
        if literal:
            out.append(literal)
        elif macro in _SI_PREFIXES:
            prefix = _SI_PREFIXES[macro]
        elif macro == "per":
            out.append("/")
        elif macro in ("squared", "cubed") and out:
            out[-1] += "^2" if macro == "squared" else "^3"
        elif macro in ("square", "cubic"):
            power_next = "^2" if macro == "square" else "^3"
        else:
            name = {"celsius": "degC", "degreeCelsius": "degC", "percent": "%"}.get(macro, macro)
            out.append(f"{prefix}{name}{power_next}")
            prefix, power_next = "", ""
    return " ".join(out)


def _respelt(match: re.Match[str], comma: bool) -> str:
    if match.group("bare"):
        return "0."
    if match.group("exponent") is not None:
        return f"e{match.group('sign')}{match.group('exponent')}".replace("−", "-")
    return "" if not comma and len(match.group("decimals")) == 3 else "."


def _ungrouped(match: re.Match[str], comma: bool) -> str:
    """A number grouped in thousands, written without them: 1'234'567 in any language, and
    1.234.567 or 4.000,00 (two groups, or a decimal comma after them); 1.250 and 2 500,75 only
    in a decimal-comma language (in English 1.250 is a decimal)."""
    number, point = match.group(0), match.group("point")
    if match.group("apostrophe"):
        return number.replace("'", "").replace("’", "")
    if point and (comma or point.count(".") >= 2 or "," in point):
        return number.replace(".", "").replace(",", ".")
    if match.group("space") and comma:
        return "".join(number.split()).replace(",", ".")
    return number


def _decimal_comma(match: re.Match[str], comma: bool) -> str:
    """`2,5` as `2.5`; outside a decimal-comma language not before three digits (1,250 groups
    thousands) nor in a list (`1,5, 2`)."""
    if not comma:
        rest = match.string[match.end() :]
        if len(match.group(2)) == 3 or (rest[:1] == "," and rest[1:].lstrip()[:1].isdecimal()):
            return match.group(0)
    return f"{match.group(1)}.{match.group(2)}"


def _mixed(match: re.Match[str]) -> str:
    whole, num, den = (int(g) for g in match.groups())
    return _mixed_value(whole, num, den) or match.group(0)


def _mixed_value(whole: int, num: int, den: int) -> str | None:
    """A mixed number's value: `7.5` for 7 1/2, `\\frac{7}{3}` for 2 1/3 (a decimal that does
    not end); None when it is no mixed number (2 3/2)."""
    if den == 0 or num >= den:
        return None
    value = Fraction(whole * den + num, den)
    rest = den
    for p in (2, 5):
        while rest % p == 0:
            rest //= p
    if rest == 1:  # a terminating decimal: 7.5
        return _plain(Decimal(value.numerator) / Decimal(value.denominator))
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _scaled(match: re.Match[str], comma: bool) -> str:
    if match.group("cjk"):
        power = _CJK_SCALES[match.group("cjk")]
    else:
        word = match.group("word").lower()
        power = (_LONG_SCALES.get(word) if comma else None) or _SCALES.get(word) or 12
    value = _plain(Decimal(match.group("num")).scaleb(power))
    if match.group("pre"):
        return f"{match.group('pre')}{value}{match.group('close')}{match.group('dollar') or ''}"
    return f"{value}{match.group('dollar') or ''}"


def _plain(value: Decimal) -> str:
    """A Decimal in positional notation without trailing zeros: 3500000, 7.5."""
    return format(value.normalize(), "f")


_SCALE_WORD = re.compile(
    rf"(?i)(?<![^\W\d_])(?:{'|'.join(map(re.escape, _SCALE_WORDS))})(?![^\W\d_])"
    rf"|{'|'.join(_CJK_SCALES)}"
)


def names_scale(text: str) -> bool:
    """True when `text` (a reference or its unit) names a scale word: `3.5` (million) is then
    the reference's own number, and `3.5 million` in the answer must not be multiplied out."""
    lowered = text.lower()  # substring tests first: a regex alternation at every position is slow
    if not any(word in lowered for word in (*_SCALE_WORDS, *_CJK_SCALES)):
        return False
    return _SCALE_WORD.search(text) is not None
