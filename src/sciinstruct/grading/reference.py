"""The reference answer of one question, parsed once: its answer, type, unit, scale, choices
and tolerance. Every comparison reads this object, never the raw reference again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sciinstruct.grading import answer_types as types
from sciinstruct.grading import numeric
from sciinstruct.grading.extract import (
    MAX_ANSWER_CHARS,
    brace_depth,
    clean,
    find_boxed,
    joined_boxes,
    open_box,
    sanitize,
)
from sciinstruct.grading.metadata import load_metadata
from sciinstruct.grading.tolerance import Tolerance
from sciinstruct.grading.verdict import Verdict, data_error

# Real answers nest a few levels; 500 nested braces is an attack on a recursive parser.
MAX_NESTING = 50


@dataclass(frozen=True)
class Reference:
    """A reference answer as the grader compares against it.

    `answer` is the reference's final answer (a boxed reference's box, tidied); `answer_type`
    the resolved type (inferred when asked for `auto`); `unit` the unit given apart from the
    answer (SciBench's `10^{-3} J` carries a scale: `quantity` is then in `J` and `scaled` is
    it times 10^-3); `quantity` the number it states, with its unit, or None for an exact form.
    """

    answer: str
    answer_type: str
    unit: str | None = None
    choices: list[str] | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)
    metadata: dict[str, Any] = field(default_factory=dict)
    question: str | None = None
    quantity: numeric.Quantity | None = None
    scaled: numeric.Quantity | None = None

    @property
    def rtol(self) -> float:
        return self.tolerance.rtol

    @property
    def atol(self) -> float:
        return self.tolerance.atol

    @classmethod
    def parse(
        cls,
        gold: Any,
        answer_type: str | None = "auto",
        unit: str | None = None,
        choices: list[str] | None = None,
        rtol: float | None = None,
        metadata: Mapping[str, Any] | str | None = None,
        question: str | None = None,
    ) -> Reference | Verdict:
        """The parsed reference, or the Verdict that grading against it must return: an unknown
        answer type, a type only a judge grades, or a reference that is a data error."""
        try:
            kind = types.resolve(answer_type)
        except ValueError as exc:
            return Verdict(None, str(exc), None, str(answer_type))
        if kind in types.JUDGE_ONLY_TYPES:
            why = (
                f"a {kind} is not graded by rules: configure a judge (--judge-backend) to grade it"
            )
            return Verdict(None, why, None, kind, certain=False)
        try:
            meta = load_metadata(metadata)
            tolerance = Tolerance.parse(rtol, meta)
        except ValueError as exc:
            return data_error(str(exc), kind)
        gold_text = sanitize(gold)
        common = {
            "unit": unit,
            "choices": choices,
            "tolerance": tolerance,
            "metadata": meta,
            "question": question,
        }
        if kind in types.EXTERNAL_TYPES:  # their references may be JSON specs, even empty
            return cls(gold_text.strip(), kind, **common)
        boxed = joined_boxes(gold_text) or find_boxed(gold_text) or open_box(gold_text)
        answer = clean(boxed if boxed is not None else gold_text)
        problem = size_problem(answer)
        if problem:
            return data_error(problem, kind)
        if kind == "auto":
            kind = types.infer(answer, choices, unit)
        reference = cls(answer, kind, **common)
        if kind == "numeric":
            quantity, scaled = _measured(answer, unit)
            reference = replace(reference, quantity=quantity, scaled=scaled)
        return reference


def _measured(
    answer: str, unit: str | None
) -> tuple[numeric.Quantity | None, numeric.Quantity | None]:
    """The reference's quantity with the unit given apart applied (`%`/`percent` make it a
    percentage), and the same scaled by that unit's power of ten, if it has one."""
    quantity = numeric.parse_quantity(answer)
    if quantity is None:
        return None, None
    scaled: numeric.Quantity | None = None
    if unit and not quantity.unit and not quantity.percent:
        if numeric.is_percent(unit):
            quantity = replace(quantity, percent=True)
        else:
            power, bare = numeric.split_unit_scale(unit)
            quantity = replace(quantity, unit=numeric.normalize_unit(bare))
            if power:
                scaled = replace(quantity, value=quantity.value * 10.0**power)
    if quantity.unit:  # `kJmol^-1` as pint reads it: `kJ mol^-1`
        quantity = replace(quantity, unit=numeric.unglue(quantity.unit))
        scaled = scaled and replace(scaled, unit=quantity.unit)
    return quantity, scaled


def size_problem(answer: str) -> str | None:
    """Why `answer` is too empty, long or deeply nested to be graded, or None."""
    if not answer.strip():
        return "empty answer"
    if len(answer) > MAX_ANSWER_CHARS:
        return f"answer is {len(answer):,} characters (limit {MAX_ANSWER_CHARS:,})"
    if brace_depth(answer) > MAX_NESTING:
        return f"brackets nest deeper than {MAX_NESTING} levels"
    return None
