"""Molecular formulas: parse one as a model would write it, compare two regardless of order.

`C6H12O6`, `H12C6O6`, `C_6H_{12}O_6`, `\\mathrm{C_{6}H_{12}O_{6}}` and `C₆H₁₂O₆` are the same formula.
Charges are kept (`C7H16NO2+`, `C2O4-2`, `SO4^{2-}`), because an ion is not its neutral parent.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from rdkit import Chem

_PERIODIC_TABLE = Chem.GetPeriodicTable()
# the 118 element symbols, from RDKit's periodic table
ELEMENTS: frozenset[str] = frozenset(_PERIODIC_TABLE.GetElementSymbol(z) for z in range(1, 119))

_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_LATEX_WRAPPERS = re.compile(r"\\(?:mathrm|text|mathbf|ce|rm)\s*")
_TOKEN = re.compile(r"([A-Z][a-z]?|\(|\)\d*)(\d*)")
# A trailing charge as RDKit writes it ("-", "+", "-2", "+3"), or in superscript form after a
# caret ("^{2-}", "^2-", "^-"). Without a caret, digits before a sign are an element count:
# acetate is C2H3O2-, with charge -1, not C2H3O with charge -2.
_CHARGE = re.compile(r"\^(\d*)([+-])$|\^?([+-])(\d*)$")


class FormulaError(ValueError):
    """A string that is not a molecular formula; the message says what was wrong."""


@dataclass(frozen=True)
class Formula:
    """Element counts and net charge; equal formulas compare equal whatever their spelling."""

    counts: tuple[tuple[str, int], ...]  # sorted by element symbol
    charge: int = 0

    def hill(self) -> str:
        """Hill notation as RDKit writes it: C, H, then the rest alphabetically (all alphabetical
        without carbon), then the charge: `C2H3O2-`, `C2O4-2`."""
        counts = dict(self.counts)
        order = sorted(counts)
        if "C" in counts:
            order = (
                ["C"] + (["H"] if "H" in counts else []) + [e for e in order if e not in ("C", "H")]
            )
        body = "".join(f"{e}{counts[e] if counts[e] > 1 else ''}" for e in order)
        if self.charge:
            magnitude = abs(self.charge)
            body += f"{'+' if self.charge > 0 else '-'}{magnitude if magnitude > 1 else ''}"
        return body

    def __str__(self) -> str:
        return self.hill()


def _clean(text: str) -> str:
    text = text.translate(_SUBSCRIPTS).strip().strip("$").strip()
    text = _LATEX_WRAPPERS.sub("", text)
    return re.sub(r"[\s_{}]", "", text)


def parse_formula(text: str) -> Formula:
    """Parse a formula in any element order; raise `FormulaError` saying what is wrong."""
    body = _clean(text)
    if not body:
        raise FormulaError("empty formula")
    charge = 0
    match = _CHARGE.search(body)
    if match:
        digits = match.group(1) or match.group(4) or ""
        sign = match.group(2) or match.group(3)
        charge = (int(digits) if digits else 1) * (1 if sign == "+" else -1)
        body = body[: match.start()]
    counts = _count_elements(body, text)
    if any(count == 0 for count in counts.values()):
        raise FormulaError(f"an element with count 0 in formula {text!r}")
    return Formula(counts=tuple(sorted(counts.items())), charge=charge)


def _count_elements(body: str, text: str) -> Counter[str]:
    """Sum element counts, multiplying parenthesised groups: `(CH3)2CO` is C3H6O."""
    stack: list[Counter[str]] = [Counter()]
    position = 0
    for token in _TOKEN.finditer(body):
        if token.start() != position:
            raise FormulaError(f"unexpected {body[position : token.start()]!r} in formula {text!r}")
        symbol, number = token.group(1), token.group(2)
        position = token.end()
        if symbol == "(":
            stack.append(Counter())
            continue
        if symbol.startswith(")"):
            if len(stack) == 1:
                raise FormulaError(f"unbalanced ')' in formula {text!r}")
            group = stack.pop()
            multiplier = int(symbol[1:]) if len(symbol) > 1 else 1
            for element, count in group.items():
                stack[-1][element] += count * multiplier
            continue
        if symbol not in ELEMENTS:
            raise FormulaError(f"unknown element {symbol!r} in formula {text!r}")
        stack[-1][symbol] += int(number) if number else 1
    if len(stack) != 1:
        raise FormulaError(f"unbalanced '(' in formula {text!r}")
    if position != len(body) or not stack[0]:
        raise FormulaError(f"not a molecular formula: {text!r} (expected e.g. C9H8O4)")
    return stack[0]
