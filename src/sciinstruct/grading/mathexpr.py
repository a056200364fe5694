"""Symbolic equivalence by math-verify: expressions, sets, intervals, tuples, matrices, equations.

These functions run inside the sandbox's worker processes (see `sandbox.py`), which enforce the
time limit; math-verify's own `signal.alarm` timeouts are therefore switched off
(`parsing_timeout=None`, `timeout_seconds=None`): they fail off the main thread. Only math-verify's
LaTeX extraction is used; its plain-expression extraction calls sympy's `parse_expr`, which
`eval`s the string, so no raw text ever reaches it.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

# 1.6e-19 in LaTeX reads as 1.6·e − 19; spell it the way LaTeX means it.
_E_NOTATION = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)[eE]([-+]?\d+)(?![\w.])")


def to_latex(answer: str) -> str:
    """An extracted answer as math-verify input: e-notation rewritten, wrapped in `$...$`."""
    s = _E_NOTATION.sub(lambda m: f"{m.group(1)}\\times10^{{{int(m.group(2))}}}", answer.strip())
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


def gold_problem(gold: str) -> str | None:
    """Why math-verify cannot read the reference, or None when it can."""
    return None if _parse(gold) else "math-verify cannot parse it"


def equal(pred: str, gold: str) -> list[Any]:
    """`[correct, reason]` for two extracted answers; correct is None for a bad reference."""
    gold_parsed = _parse(gold)
    if not gold_parsed:
        return [None, "reference: math-verify cannot parse it"]
    pred_parsed = _parse(pred)
    if not pred_parsed:
        return [False, "prediction could not be parsed as math"]
    same = _math_verify().verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None)
    return [bool(same), "math-verify: equivalent" if same else "math-verify: not equivalent"]


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


# The only operations a sandbox worker will run (see sandbox.py).
OPS = {"equal": equal, "number": number, "gold_problem": gold_problem}
