"""Symbolic equivalence by math-verify: expressions, sets, intervals, tuples, matrices, equations.

These functions run inside the sandbox's worker processes (see `sandbox.py`), which enforce the
time limit; math-verify's own `signal.alarm` timeouts are therefore switched off
(`parsing_timeout=None`, `timeout_seconds=None`): they fail off the main thread. Only math-verify's
LaTeX extraction is used; its plain-expression extraction calls sympy's `parse_expr`, which
`eval`s the string, so no raw text ever reaches it.
"""

from __future__ import annotations

import cmath
import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sciinstruct.grading.lexicon import DEFINED, DEGREE_SIGN, last_math_close
from sciinstruct.grading.numeric import last_side, written_precision_match

# Spellings math-verify misreads, rewritten the way LaTeX means them: 1.6e-19 (which LaTeX
# reads as 1.6·e − 19); Euler's number and the imaginary unit set upright, `\mathrm{e}`,
# `\mathrm{i}` (it drops the font and the letter with it; not `6.022\mathrm{e}23`, a mantissa's
# exponent); a root whose argument is one token without braces, `\sqrt[3]2` (TeX's own reading).
_SPELLING = re.compile(
    r"(?<![\w.])(?P<mantissa>\d+(?:\.\d*)?|\.\d+)[eE](?P<exponent>[-+]?\d+)(?![\w.])"
    r"|\\(?:mathrm|text|textrm|rm|operatorname|mathit)\s*\{\s*(?P<constant>[ei])\s*\}"
    r"|(?P<root>\\sqrt\s*\[[^\[\]{}]*\])\s*(?P<radicand>\\[A-Za-z]+|[A-Za-z0-9])"
)


def _respell(match: re.Match[str]) -> str:
    if match.group("mantissa"):
        return f"{match.group('mantissa')}\\times10^{{{int(match.group('exponent'))}}}"
    if match.group("constant"):
        before, after = match.string[: match.start()].rstrip(), match.string[match.end() :]
        after = after.lstrip().lstrip("-+−").lstrip()
        if before[-1:].isdigit() and after[:1].isdigit():
            return match.group(0)  # 6.022\mathrm{e}23: a mantissa's exponent, not Euler's e
        return match.group("constant")
    return f"{match.group('root')}{{{match.group('radicand')}}}"


# Letters that name no variable: a command, Euler's number (`euler`: e^{i\pi/4}), the imaginary
# unit (`imaginary`: 3i, which latex2sympy reads as a symbol `i` unless written `I`).
_COMMAND = re.compile(
    r"\\[A-Za-z]+|(?P<euler>(?<![A-Za-z\\])e(?=\s*\^))|(?P<imaginary>(?<![A-Za-z\\_])i(?![A-Za-z]))"
)
# 90^\circ inside a trigonometric function (`trig`) is pi/2: sympy's trig functions take radians.
_DEGREES = re.compile(
    rf"(?P<trig>\\(?:sin|cos|tan|cot|sec|csc)\b)|(?P<degrees>\d+(?:\.\d+)?)\s*(?:{DEGREE_SIGN}|°)"
)
# y = 3x - 1 and g(x) = 3x - 1 define the same line: a definition's left side is a name only.
# \{x \mid x > 2\}, \{x : x > 2\}: a set written by its condition, which is then the answer.
_SET_BUILDER = re.compile(r"^\\\{\s*[A-Za-z]\s*(?:\\mid|\||:)\s*(.+?)\s*\\\}$")


def _bare(s: str, *kept: str) -> str:
    """`s` without its LaTeX commands, nor Euler's e and the imaginary unit unless `kept`."""
    return _COMMAND.sub(lambda m: m[0] if m.lastgroup in kept else "", s)


def _radians(match: re.Match[str]) -> str:
    return match[0] if match["trig"] else f"\\frac{{{match['degrees']}\\pi}}{{180}}"


def to_latex(answer: str) -> str:
    """An extracted answer as math-verify input: e-notation, upright constants and unbraced
    roots respelled (`_SPELLING`), an imaginary unit made visible, degrees inside trigonometric
    functions made radians, a definition's left side (`y =`, `g(x) =`) dropped, wrapped in
    `$...$`."""
    s = _SPELLING.sub(_respell, answer.strip())
    s = _SET_BUILDER.sub(r"\1", s).replace("\\varnothing", "\\emptyset")
    if set(re.findall(r"[A-Za-z]", _bare(s, "imaginary"))) == {"i"}:  # no other variable
        s = _COMMAND.sub(lambda m: "I" if m.lastgroup == "imaginary" else m[0], s)
    if any(m["trig"] for m in _DEGREES.finditer(s)):
        s = _DEGREES.sub(_radians, s)
    defined = DEFINED.match(s)  # `y = 3x - 1`, `f(x) = x^2`: the right side, if the only `=`
    if (
        defined
        and s[defined.end() : defined.end() + 1] == "="
        and "=" not in s[defined.end() + 1 :]
    ):
        s = s[defined.end() + 1 :]
    if "$" in s or "\\boxed" in s or s.startswith(("\\(", "\\[")):
        return s
    return f"${s}$"


@lru_cache(maxsize=1)
def _math_verify() -> Any:
    import math_verify

    # Timeouts are ours; silence the "timeout disabled" warning and per-parse debug noise.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)
    return math_verify


@lru_cache(maxsize=2048)
def _parse(answer: str) -> tuple[Any, ...]:
    mv = _math_verify()
    parsed = mv.parse(
        to_latex(answer),
        extraction_config=[mv.LatexExtractionConfig()],
        fallback_mode="no_fallback",
        parsing_timeout=None,
    )
    return tuple(parsed)


@lru_cache(maxsize=1024)
def _parse_response(text: str) -> tuple[Any, ...]:
    """A whole response read by math-verify's own LaTeX extraction: a box first, then "the
    final answer is", then the last math span (never a bare number in running text, which
    would need its `parse_expr` extraction)."""
    mv = _math_verify()
    parsed = mv.parse(
        text,
        extraction_config=[mv.LatexExtractionConfig(boxed_match_priority=0)],
        fallback_mode="first_match",  # [value, the text it read] (just [text] if unparsable)
        parsing_timeout=None,
    )
    return tuple(parsed) if len(parsed) == 2 else ()


def response_equal(
    response: str,
    golds: Sequence[str],
    rtol: float | None = None,
    bare: bool = False,
    written: bool = False,
) -> list[Any]:
    """`[correct, reason, extracted]`: math-verify's extraction of the whole `response` against
    any of the extracted references `golds` (the second look the grader takes when its own
    rules found the answer wrong or could not read it). `bare`: what it reads must be a bare
    number or expression, no unit or variable (math-verify would drop a unit)."""
    pred_parsed = _parse_response(response)
    if not pred_parsed:
        return [False, "math-verify found no answer in the response", None]
    extracted = str(pred_parsed[1])[:200]
    closer = last_math_close(response)
    if closer and re.search(r"\d", response[closer.end() :]):
        # "... at $x=3$ gives 6, so the slope is 6": the last math span is not the answer
        return [False, "the response states a number after its last math span", extracted]
    if bare and closer and _has_unit(_last_span(response, closer)):
        return [False, "math-verify read a unit or a variable, which it cannot weigh", extracted]
    value = list(pred_parsed[:1])
    result = last_side(extracted, evaluated=True)
    chained = result != extracted and bool(_parse(result))
    if chained:  # S = 25000(e^{3.2}-1) \approx 588.3: the chain's result, not a step
        value = list(_parse(result)[:1])
    if bare:  # x = 5: the value
        value = [getattr(value[0], "rhs", value[0])]
    for gold in golds:
        gold_parsed = _parse(gold)
        if not gold_parsed:
            continue
        if _math_verify().verify(list(gold_parsed), value, timeout_seconds=None):
            return [True, "math-verify's own extraction of the response: equivalent", extracted]
        if chained and not _DECIMAL.search(gold):
            continue  # Y \approx 0.28 against 1/sqrt(4 pi): its figures, which the rules weighed
        said = result if chained else extracted
        by_value = _by_value(said, value[0], gold, gold_parsed[0], rtol, written)
        if by_value is not None and by_value[0]:
            return [True, f"math-verify's own extraction of the response: {by_value[1]}", extracted]
    return [False, "math-verify's own extraction of the response: not equivalent", extracted]


_OPENER = {"$": "$", "\\]": "\\[", "\\)": "\\("}
_FONT = re.compile(r"\\(?:text\w*|math\w+|rm|operatorname|mbox|si|unit)\b")


def _last_span(response: str, closer: re.Match[str]) -> str:
    """The raw text of the math span that `closer` ends (math-verify's own copy of it has its
    units already normalised away)."""
    end = closer.start()
    opener = _OPENER[closer.group(0)]
    if opener == "$" and response[end - 1 : end] == "$":  # $$ ... $$
        end -= 1
        opener = "$$"
    return response[response.rfind(opener, 0, end) + len(opener) : end]


def _has_unit(span: str) -> bool:
    """True when the value a math span ends with (after its last `=`) carries a unit or a
    variable: `E = 2.25 \\mathrm{~J}`, `5x`; not `\\frac{0.693}{10}` or `2.2 \\times 10^{-3}`."""
    value = span.rsplit("=", 1)[-1]
    return bool(_FONT.search(value) or re.search(r"[A-Za-z]", _bare(value, "euler", "imaginary")))


def gold_problem(gold: str) -> str | None:
    """Why math-verify cannot read the reference, or None when it can."""
    return None if _parse(gold) else "math-verify cannot parse it"


# A decimal point between digits; `literal`: a decimal written on its own (0.667; not 1.2.3).
_DECIMAL = re.compile(r"(?P<literal>(?<![\d.])\d+\.\d+(?![\d.]))|\d\.\d")


def _decimal_literals(text: str) -> list[str]:
    """The decimals `text` writes on their own: `0.33`, `0.67` in `(0.33, 0.67)`."""
    return [m["literal"] for m in _DECIMAL.finditer(text) if m["literal"]]


def equal(pred: str, gold: str, rtol: float | None = None, written: bool = False) -> list[Any]:
    """`[correct, reason]` for two extracted answers; correct is None for a bad reference.

    When one side is written with a decimal (`0.1667` against `\\frac{1}{6}`, `(0.4, 1.3333]`
    against `(2/5, 4/3]`), both are also evaluated numerically and compared at `rtol`; with
    `written` (no tolerance asked for), one decimal against one exact value is judged by the
    decimal's written precision instead (`numeric.written_precision_match`).
    """
    gold_parsed = _parse(gold)
    if not gold_parsed:
        return [None, "reference: math-verify cannot parse it"]
    pred_parsed = _parse(pred)
    if not pred_parsed:
        return [False, "prediction could not be parsed as math"]
    same = _math_verify().verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None)
    if same:
        return [True, "math-verify: equivalent"]
    form = _same_in_another_form(pred_parsed[0], gold_parsed[0], pred, gold)
    if form:
        return [True, form]
    by_value = _by_value(pred, pred_parsed[0], gold, gold_parsed[0], rtol, written)
    return by_value or [False, "math-verify: not equivalent"]


def _by_value(
    pred: str, pred_item: Any, gold: str, gold_item: Any, rtol: float | None, written: bool
) -> list[Any] | None:
    """`[correct, reason]` for two answers math-verify finds different, judged by value when a
    side is a decimal: with `written` (no tolerance asked for) by the figures written
    (`numeric.written_precision_match`: 314 against 100 pi, ln 2 against 0.693150; an
    interval's 0.67 against 2/3), else numerically at `rtol`; None when that does not apply."""
    if written:
        values = _real(pred_item), _real(gold_item)
        if values[0] is not None and values[1] is not None:
            ok = written_precision_match(pred, values[0], gold, values[1])
            if ok is not None:
                return [ok, f"{'equal' if ok else 'not equal'} to the precision written"]
        items = None if _DECIMAL.search(pred) else _items_by_figures(pred_item, gold, gold_item)
        if items is not None:
            return [items, f"items {'equal' if items else 'not equal'} to the precision written"]
        if not _DECIMAL.search(gold) and _rounded_too_far(pred, gold, gold_item):
            return [False, "a decimal that is not an item of the reference to 3 figures or more"]
    decimal = _DECIMAL.search(pred) or _DECIMAL.search(gold)
    if rtol is not None and decimal and _numerically_close(pred_item, gold_item, rtol):
        return [True, f"equal when evaluated numerically (rtol={rtol:g})"]
    return None


def _items_by_figures(pred_item: Any, gold: str, gold_item: Any) -> bool | None:
    """For a reference that writes each item of a tuple, interval or vector as a decimal
    (`(0.33, 0.67)`), whether the answer's exact items (`(1/3, 2/3)`: the caller checks that
    it writes no decimal, two decimals being the tolerance's to judge) round to them at the
    reference's own precision, in order; None when the shapes or the writing do not fit."""
    preds, golds = _ordered_items(pred_item), _ordered_items(gold_item)
    written = _decimal_literals(gold)
    if preds is None or golds is None or not (len(preds) == len(golds) == len(written) >= 2):
        return None
    if type(pred_item) is not type(gold_item):
        return None
    values = [(_real(p), _real(g)) for p, g in zip(preds, golds, strict=True)]
    if any(p is None or g is None for p, g in values):
        return None
    matches = [
        written_precision_match("", p, text, g)
        for (p, g), text in zip(values, written, strict=True)
    ]
    return None if None in matches else all(matches)


def _ordered_items(item: Any) -> list[Any] | None:
    """The items of an interval (its ends), a tuple or a matrix, in order; None otherwise."""
    import sympy

    if isinstance(item, sympy.Interval):
        return [item.start, item.end]
    if isinstance(item, sympy.Tuple):
        return list(item.args)
    if isinstance(item, sympy.MatrixBase):
        return list(item)
    return None


def _rounded_too_far(pred: str, gold: str, gold_item: Any) -> bool:
    """True when a decimal written in `pred` is none of the exact values in `gold_item` (an
    interval's ends, a tuple's or set's items) by `numeric.written_precision_match`: 0.67 or
    0.285 for 2/7; not 0.286, nor 0.4 for 2/5, which is exact."""
    import sympy

    if isinstance(gold_item, sympy.Interval):
        items = [gold_item.start, gold_item.end]
    elif isinstance(gold_item, sympy.FiniteSet | sympy.Tuple):
        items = list(gold_item.args)
    else:
        items = [gold_item]
    values = [v for v in (_real(item) for item in items) if v is not None]
    return any(
        not any(written_precision_match(d, float(d), gold, v) for v in values)
        for d in _decimal_literals(pred)
    )


def _same_in_another_form(pred: Any, gold: Any, pred_text: str, gold_text: str) -> str | None:
    """Why two parsed answers that math-verify calls different are the same object written in
    two forms, or None: an inequality and its interval, a column vector and a tuple, two exact
    numbers of one value (`\\sqrt{2}e^{i\\pi/4}` and `1+i`), two equations of one curve."""
    import sympy

    sets = _as_set(pred), _as_set(gold)
    if sets[0] is not None and sets[1] is not None and sets[0] == sets[1]:
        return "the same set of real numbers"
    vectors = _as_tuple(pred, gold), _as_tuple(gold, pred)
    if (
        vectors[0] is not None
        and vectors[1] is not None
        and len(vectors[0]) == len(vectors[1])
        and all(sympy.simplify(p - g) == 0 for p, g in zip(*vectors, strict=True))
    ):
        return "the same vector"
    if getattr(pred, "is_number", False) and getattr(gold, "is_number", False):
        if _exact(pred) and _exact(gold) and (pred - gold).doit().is_zero is False:
            return None  # 1/3 and (3^1008 - 1)/3^1009 agree to 480 places; exactly, they differ
        try:
            p, g = complex(pred.evalf(30)), complex(gold.evalf(30))
        except (TypeError, ValueError, OverflowError):
            return None
        if cmath.isfinite(p) and cmath.isfinite(g) and abs(p - g) <= 1e-12 * max(1.0, abs(g)):
            return "the same number"
        return None
    equations = _equation(pred, pred_text), _equation(gold, gold_text)
    if equations[0] is not None and equations[1] is not None:
        ratio = sympy.simplify(equations[0] / equations[1])
        if ratio.is_number and ratio != 0 and ratio.is_finite:
            return "equations of the same curve (one is a constant multiple of the other)"
    return None


def _exact(number: Any) -> bool:
    """Whether a sympy number is written exactly (no decimal in it), so that sympy can prove
    two such numbers different where a float comparison cannot tell them apart."""
    import sympy

    return not number.atoms(sympy.Float)


def _as_set(item: Any) -> Any:
    """The set of reals an interval, union, inequality (`x \\geq 5`, `-2 \\le x \\le 7`),
    membership (`x \\in [-2, 7]`) or list of inequalities stands for; None for anything else. A list's "and" or "or" is lost by the time it is
    parsed: disjoint conditions (`x < -1`, `x > 2`) can only mean "or", overlapping ones
    (`x > 1`, `x < 3`) a system, "and"."""
    import sympy

    if isinstance(item, sympy.Set) and not isinstance(item, sympy.FiniteSet):
        return item
    if isinstance(item, sympy.Eq) and isinstance(item.rhs, sympy.Set) and item.lhs.is_Symbol:
        return _as_set(item.rhs)  # `x \in [-2, 7]`, which math-verify reads as Eq(x, [-2, 7])
    if isinstance(item, sympy.FiniteSet) and item.args and all(_is_condition(a) for a in item.args):
        conditions = item.args
    elif _is_condition(item):
        conditions = (item,)
    else:
        return None
    symbols = set().union(*(c.free_symbols for c in conditions))
    if len(symbols) != 1:
        return None
    try:
        parts = [c.as_set() for c in conditions]
    except (NotImplementedError, TypeError, ValueError):
        return None
    both = sympy.Intersection(*parts)
    return sympy.Union(*parts) if both is sympy.S.EmptySet else both


def _is_condition(item: Any) -> bool:
    import sympy

    relational = isinstance(item, sympy.core.relational.Relational)
    return (relational and not isinstance(item, sympy.Eq)) or isinstance(item, sympy.And | sympy.Or)


def _as_tuple(item: Any, other: Any) -> tuple[Any, ...] | None:
    """The entries of a tuple or of a one-column (or one-row) matrix, in order; against a
    matrix, `(1, 2)` (which math-verify reads as an open interval) is the vector's tuple."""
    import sympy

    if isinstance(item, sympy.Tuple | tuple):
        return tuple(item)
    if (
        isinstance(item, sympy.Interval)
        and item.left_open
        and item.right_open
        and isinstance(other, sympy.MatrixBase)
    ):
        return (item.start, item.end)
    if isinstance(item, sympy.MatrixBase) and 1 in item.shape:
        return tuple(item)
    return None


def _names_a_function(lhs: str) -> bool:
    """`f(x)`, `g ( t )`: one letter applied to one lower-case variable (a definition's left
    side, `g(x) =`, which names the curve `y`)."""
    t = "".join(lhs.split())
    return (
        len(t) == 4
        and t[0].isascii()
        and t[0].isalpha()
        and t[1] + t[3] == "()"
        and "a" <= t[2] <= "z"
    )


def _equation(item: Any, text: str) -> Any:
    """`lhs - rhs` of an equation (parsed, or written with one `=` in `text`), or None."""
    import sympy

    if isinstance(item, sympy.Eq):
        if not all(isinstance(side, sympy.Expr) for side in item.args):
            return None  # `x \in [-2, 7]`: a membership, not an equation
        return item.lhs - item.rhs
    if text.count("=") != 1 or re.search(r"[<>!]=|\\[lg]eq?", text):
        return None
    lhs, rhs = text.split("=")
    sides = [_parse("y" if _names_a_function(lhs) else lhs), _parse(rhs)]
    if not (sides[0] and sides[1]) or any(isinstance(side[0], str) for side in sides):
        return None
    try:
        return sides[0][0] - sides[1][0]
    except TypeError:
        return None


def _real(item: Any) -> float | None:
    """The real value of a parsed number, or None for anything else."""
    if not getattr(item, "is_number", False):
        return None
    try:
        value = complex(item.evalf(20))
    except (TypeError, ValueError):
        return None
    return float(value.real) if value.imag == 0 else None


def _numerically_close(pred: Any, gold: Any, rtol: float) -> bool:
    """Numbers, intervals, tuples and sets whose numeric values agree within `rtol`."""
    import sympy

    if isinstance(pred, sympy.Interval) and isinstance(gold, sympy.Interval):
        return (
            pred.left_open == gold.left_open
            and pred.right_open == gold.right_open
            and _numerically_close(pred.start, gold.start, rtol)
            and _numerically_close(pred.end, gold.end, rtol)
        )
    if isinstance(pred, sympy.FiniteSet) and isinstance(gold, sympy.FiniteSet):
        pred_items, gold_items = _sorted_values(pred.args), _sorted_values(gold.args)
    elif isinstance(pred, sympy.Tuple) and isinstance(gold, sympy.Tuple):
        pred_items, gold_items = list(pred.args), list(gold.args)
    else:
        return _close_numbers(pred, gold, rtol)
    return len(pred_items) == len(gold_items) and all(
        _numerically_close(p, g, rtol) for p, g in zip(pred_items, gold_items, strict=True)
    )


def _sorted_values(items: Any) -> list[Any]:
    numbers = [item for item in items if getattr(item, "is_number", False)]
    if len(numbers) != len(items):
        return list(items)
    return sorted(items, key=lambda item: complex(item.evalf(20)).real)


def _close_numbers(pred: Any, gold: Any, rtol: float) -> bool:
    if not (getattr(pred, "is_number", False) and getattr(gold, "is_number", False)):
        return False
    if pred == gold:  # -oo and -oo, an interval's open end: no difference to weigh
        return True
    try:
        p, g = complex(pred.evalf(20)), complex(gold.evalf(20))
    except (TypeError, ValueError):
        return False
    return abs(p - g) <= max(rtol * abs(g), 1e-12)


def number(answer: str) -> float | None:
    """The numeric value of an expression such as `\\frac{1}{3}` or `2\\sqrt{2}`, if it has one."""
    for item in _parse(answer):
        if isinstance(item, str) or not getattr(item, "is_number", False):
            continue
        value = complex(item.evalf(20))
        if value.imag == 0:
            return float(value.real)
    return None


def warmup() -> None:
    """Import sympy and math-verify and exercise the parser once, before serving tasks."""
    # The first simplify, interval, set and matrix comparisons import more of sympy: do them now.
    for pred, gold in (
        ("\\frac{1}{2}", "0.5"),
        ("x^2+2x+1", "(x+1)^2"),
        ("2\\sqrt{2}", "\\sqrt{8}"),
        ("[1,2)", "(1,2]"),
        ("\\{1,2\\}", "\\{2,1\\}"),
        ("x=2", "2"),
        ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1\\\\3\\end{pmatrix}"),
    ):
        equal(pred, gold)
    number("\\pi")


def items_equal(
    preds: Sequence[str], golds: Sequence[str], ordered: bool, rtol: float | None = None
) -> list[Any]:
    """`[correct, reason, extracted]` for the values of a list answer against a reference's
    (in order, or paired off one to one as a set), each pair by `equal`."""
    from sciinstruct.grading.several import match

    k = len(golds)
    if len(preds) != k:
        return [False, f"{len(preds)} values, expected {k}", ", ".join(preds)]
    table = [[bool(equal(p, g, rtol)[0]) for g in golds] for p in preds]
    ok = all(table[i][i] for i in range(k)) if ordered else match(k, lambda i, j: table[i][j])
    how = "in order" if ordered else "as a set"
    why = f"the {k} values {'equal' if ok else 'differ from'} the reference's {how}"
    return [ok, why, ", ".join(preds)]


def option_index(answer: str, options: Sequence[str]) -> int | None:
    """The index of the only option equal to `answer` (`\\sqrt{20}` and `2\\sqrt{5}`), or None."""
    same = [i for i, option in enumerate(options) if _parse(option) and equal(answer, option)[0]]
    return same[0] if len(same) == 1 else None


# The only operations a sandbox worker will run (see sandbox.py).
OPS = {
    "equal": equal,
    "number": number,
    "gold_problem": gold_problem,
    "response_equal": response_equal,
    "items_equal": items_equal,
    "option_index": option_index,
}
