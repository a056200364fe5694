"""One check per answer type: each turns an extracted answer and a reference into a Verdict,
or into a `Pending` symbolic check for the sandbox when sympy is needed.

Everything here runs in-process, so it is all bounded: length caps in `extract.py`, anchored
regular expressions, pint and RDKit on short strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sciinstruct.grading import answer_types as types
from sciinstruct.grading import choice, numeric, quantities, smiles, text
from sciinstruct.grading.extract import (
    EXPLICIT,
    MAX_ANSWER_CHARS,
    Candidate,
    clean,
    declines,
    last_number,
    offers_alternatives,
    states_no_value,
)
from sciinstruct.grading.readings import Readings, same_dimension
from sciinstruct.grading.reference import Reference
from sciinstruct.grading.verdict import Verdict, data_error, unsure


@dataclass(frozen=True)
class Pending:
    """A symbolic check to run in the sandbox, and how to turn its outcome into a Verdict."""

    task: tuple[str, tuple[Any, ...]]
    finish: Callable[[Any], Verdict]
    gold: str
    answer_type: str
    extracted: str
    fallback: bool
    rule: str | None = None  # the rule that read `extracted`


Step = Verdict | Pending


def wrong(verdict: Verdict, gold: str) -> Step:
    """A prediction judged wrong before the reference was read: unless the reference is bad.

    A bad reference is a data error whatever the prediction says, so check it first.
    """
    kind = verdict.answer_type
    if kind == "smiles" and smiles.canonical(gold) is None:
        return data_error(f"'{gold[:60]}' is not valid SMILES", kind, verdict.extracted)
    if kind == "text" and not text.normalize(gold):
        return data_error("empty after normalisation", kind, verdict.extracted)
    if kind == "numeric" and numeric.parse_quantity(gold) is not None:
        return verdict
    if kind not in ("numeric", "expression"):
        return verdict

    def finish(problem: str | None) -> Verdict:
        return data_error(problem, kind, verdict.extracted) if problem else verdict

    return Pending(
        ("gold_problem", (gold,)), finish, gold, kind, verdict.extracted or "", verdict.fallback
    )


def numeric_check(found: Candidate, ref: Reference, readings: Readings) -> Step:
    """Numbers with units and tolerance; exact forms like `\\frac{1}{3}` via sympy.

    A unit given apart from the reference (`unit="%"`, a question's `unit` field) is the
    reference's unit; `%`, `percent` make it a percentage, so `12%` and `0.12` both match `12`.
    A unit with a power of ten in front (SciBench's `10^{-19} J`) scales the reference; an
    answer without a unit may then be written in either scale.
    """
    gold, tolerance = ref.answer, ref.tolerance
    rtol, atol, written = tolerance.rtol, tolerance.atol, tolerance.by_figures
    gold_q, scaled = ref.quantity, ref.scaled
    if gold_q is None:  # an exact form such as \frac{1}{3}: math-verify decides
        return expression_check(found, readings, gold, rtol, written)
    if gold_q.percent and readings.states_factor():
        gold_q = replace(gold_q, percent=False)  # a factor of 0.125 is no 12.5 %
    # A whole number without a unit is a count (GSM8K's 100 apples), not a measurement: 101 is
    # wrong. Asking for a tolerance (the caller's rtol, a question's rtol/atol) turns that off.
    exact = (
        not gold_q.unit
        and not gold_q.percent
        and numeric.is_whole_number(gold)
        and tolerance.counts_exact
    )

    def verdict(
        pred_q: numeric.Quantity, shown: str, fallback: bool, rule: str | None = None
    ) -> Verdict:
        if scaled is not None and pred_q.unit:  # 2.25 mJ against 2.25 (10^-3 J): not 2.25 J
            ok, why = numeric.compare(pred_q, scaled, rtol, False, atol)
            return Verdict(ok, why, shown, "numeric", fallback, rule=rule)
        figures = (shown, gold) if written else None  # no tolerance asked: as the tables label
        ok, why = numeric.compare(pred_q, gold_q, rtol, exact, atol, figures)
        if not ok and scaled is not None:
            ok, why = numeric.compare(pred_q, scaled, rtol, False, atol)
        return Verdict(ok, why, shown, "numeric", fallback, rule=rule)

    def in_dimension(result: Verdict) -> Verdict:
        """`result`, or for an unanchored answer that it rejects, the verdict on the last
        quantity in the asked dimension ("... gives 475 m s^-1 for N2 at 298 K": the answer,
        not a condition stated after it)."""
        if result.correct or found.how in EXPLICIT or not gold_q.unit:
            return result
        picked = numeric.parse_quantity(result.extracted or "")
        if picked is None or not same_dimension(picked.unit, gold_q.unit):
            # "$$P = ... = 1.51\times10^4 bar$$ ... at 1 bar and 298 K is spontaneous": the
            # result of the last display equation, not a condition in the remark after it
            shown = readings.display_result(gold_q.unit)
            if shown is not None:
                return verdict(shown.value, shown.text, True, shown.rule)
        asked = readings.last_in_dimension(gold_q.unit)
        if asked is None:
            return result
        return verdict(asked.value, asked.text, True, asked.rule)

    if found.how == "statement" and not _has_value(found.text) and not states_no_value(found.text):
        found = replace(found, how="last_number")  # "The $E^\circ$ values cannot be combined"
    if found.fallback and declines(readings.text):  # "... so the jogging steps cannot be found"
        why = "the solution says the asked value cannot be determined"
        return unsure(Verdict(False, why, found.text, "numeric", True, rule=found.rule))
    if found.fallback:  # an unanchored solution: its last quantity, unit included
        tail = readings.last_quantity()
        if tail is not None:
            return in_dimension(verdict(tail.value, tail.text, True, tail.rule))
    if offers_alternatives(found.text):
        why = "two different answers offered as alternatives (a hedge) are not one answer"
        return Verdict(False, why, found.text, "numeric", found.fallback)
    prose = types.has_prose(found.text)
    if (
        (found.how != "whole" or not prose)
        and _NOT_ONE_NUMBER.search(numeric.last_side(found.text))
    ) or (prose and _ENDS_IN_RANGE.search(found.text)):
        why = "an interval, set, tuple or inequality is not the single number asked for"
        return Verdict(False, why, found.text, "numeric", found.fallback)
    span = _ENDS_IN_SPAN.search(found.text) if prose else None
    if span and not found.fallback:
        # "The angle is $\frac{\pi}{3}$ rad.", "... $\theta = \pi/3$ rad": a value and its unit
        value = f"{numeric.last_side(span.group(1))} {span.group(2) or ''}".strip()
        return numeric_check(replace(found, text=value), ref, readings)
    pred_q = numeric.parse_quantity(found.text)
    if pred_q is not None and (pred_q.percent or not pred_q.unit or _known(pred_q.unit)):
        shown = found.text
        after = None if pred_q.unit or pred_q.percent else readings.unit_after(found)
        if after:  # "$\boxed{72}$ m", "the answer is $E = 5$ J": a unit after the math
            pred_q, shown = replace(pred_q, unit=after), f"{found.text} {after}"
        return in_dimension(verdict(pred_q, shown, found.fallback))
    rational = numeric.parse_rational(found.text)
    if rational is not None:  # \frac{1}{2}, 3/4: exact, no sympy needed
        return verdict(numeric.Quantity(float(rational), ""), found.text, found.fallback)
    if not found.fallback:  # "11 m/s because ...", "v = 9.8 m/s^2, downwards"
        lead = quantities.leading_quantity(found.text)
        if lead is not None:
            return verdict(lead.quantity, lead.text, found.fallback)
    if (
        pred_q is not None and len(pred_q.unit.split()) <= 2
    ):  # a unit pint does not know: "5 apples"
        return verdict(pred_q, found.text, found.fallback)
    value_text, value_unit = _value_and_unit(numeric.last_side(found.text))
    if re.search(r"[\\^/]", value_text) and not types.has_prose(value_text):
        # \frac{1}{2}, 2\sqrt{2}, \pi/3 rad: ask sympy for the value; pi without a unit, against
        # an angle in degrees, is in radians
        if not value_unit and _RADIANS.search(value_text) and _is_angle(gold_q.unit):
            value_unit = "radian"

        def finish(value: float | None) -> Verdict:
            if value is None:
                return Verdict(
                    False, "prediction has no numeric value", found.text, "numeric", certain=False
                )
            return verdict(numeric.Quantity(value, value_unit), found.text, found.fallback)

        return Pending(("number", (value_text,)), finish, gold, "numeric", found.text, False)
    labelled = _LABELLED_VALUE.fullmatch(found.text.strip())
    if labelled:  # "pH 7.3", "T 300 K": the quantity's name, then its value
        value_q = numeric.parse_quantity(labelled.group(1))
        if value_q is not None:
            return in_dimension(verdict(value_q, labelled.group(1), found.fallback))
    if not types.has_prose(found.text):  # 2x, \sqrt{x}+1: math, not a number: math-verify decides
        return expression_check(found, readings, gold, rtol, written)
    # A sentence ("So the result is 7.2 km/h."): its last quantity, unit included, as a fallback.
    tail = quantities.last_quantity(found.text)
    if tail is None:
        return Verdict(
            False, "prediction holds no number", found.text, "numeric", found.fallback, False
        )
    return in_dimension(verdict(tail.quantity, tail.text, True))


# What a numeric answer cannot lack: a digit or a constant.
_VALUE_SYMBOLS = ("\\pi", "π", "\\infty", "∞")


def _has_value(text: str) -> bool:
    """A digit (`\\d`: any decimal digit), π or ∞ in `text`."""
    return any(c.isdecimal() for c in text) or any(s in text for s in _VALUE_SYMBOLS)


# A short name, a space, then a number: "pH 7.3". Not "2x" or "x^2" (no space before a digit).
_LABELLED_VALUE = re.compile(r"[A-Za-z][A-Za-z_]{0,5}\s+(-?\d[\d.]*(?:\s*[A-Za-z%°/^{}\-\d ]*)?)")

# [2, 5], (0, 3), {1, 2}, x > 3, 2 \le x: an answer that is not one number.
_NOT_ONE_NUMBER = re.compile(
    r"^\s*(?:\\left)?\s*[\[(]|^\s*\\\{|^\s*\\left\\\{|[<>≤≥]|\\(?:le|ge|leq|geq|neq|lt|gt)\b"
)
# A sentence that ends in an interval or a tuple ("x in (0, 3).") or a bound ("It is at least
# 5."): not the number.
_ENDS_IN_RANGE = re.compile(
    r"[\[(][^()\[\]]*\d[^()\[\]]*,[^()\[\]]*\d[^()\[\]]*[\])][\s.$]*$"
    r"|(?i:\b(?:at\s+(?:least|most)|(?:more|less|fewer|greater|smaller|larger)\s+than|up\s+to)"
    r"\s+\$?[-−]?\d[^\s$]*\$?(?:\s+[^\W\d]+)?\s*\.?\s*$)"
)
# A sentence that ends in a math span and at most a unit word: "... is $\frac{\pi}{3}$ rad."
_ENDS_IN_SPAN = re.compile(r"\$([^$]*\\[^$]*)\$\s*([A-Za-z°]+)?\s*\.?\s*$")
# An exact angle with no unit is in radians: \frac{\pi}{3}, \cos^{-1}(2/3), \arctan 2.
_RADIANS = re.compile(r"\\pi|π|\\arc(?:sin|cos|tan)|\\(?:sin|cos|tan)\s*\^\s*\{?\s*-1")
_ANGLES = frozenset(["degree", "radian", "arcminute", "arcsecond", "turn", "gradian"])


def _angle_in(sentence: str) -> str | None:
    """The last quantity of `sentence` when it is an angle with its unit (`30 degrees`)."""
    found = quantities.last_quantity(sentence)
    return found.text if found is not None and _is_angle(found.quantity.unit) else None


def _is_angle(unit: str) -> bool:
    parsed = numeric.parse_unit(unit) if unit else None
    return parsed is not None and str(parsed) in _ANGLES


def _value_and_unit(answer: str) -> tuple[str, str]:
    """`\\pi/3 \\text{ rad}` -> (`\\pi/3`, `rad`): an exact value and the unit pint knows after it
    (the longest of the last three words), or the whole answer and no unit."""
    words = text.unwrap_text(answer, " ").split()
    for size in (3, 2, 1):
        if len(words) > size:
            unit = numeric.normalize_unit(" ".join(words[-size:]))
            if unit and re.match(r"[A-Za-z]", unit) and _known(unit):
                return " ".join(words[:-size]), unit
    return answer, ""


def _known(unit: str) -> bool:
    return numeric.parse_unit(unit) is not None


def expression_check(
    found: Candidate, readings: Readings, gold: str, rtol: float = 1e-6, written: bool = False
) -> Step:
    """Math objects: identical strings, rationals, times of day and angles here, everything
    else by math-verify (numerically at `rtol` when a side is written as a decimal; with
    `written`, when no tolerance was asked for, a decimal against an exact value by its written
    precision: see `numeric.written_precision_match`)."""
    answer, fallback = found.text, found.fallback
    if found.how == "whole" and not readings.has_math and types.has_prose(answer):
        # A sentence without math markup: the math after its last "is"/":" (an equation kept
        # whole) or else its last "=", if that part is math; else its last number.
        cuts = list(_PROSE_CUT.finditer(answer))
        said = [c for c in cuts if c.group("said")]
        tail = answer[said[-1].end() :].strip() if said else answer.strip()
        if types.has_prose(tail) and cuts:
            tail = answer[cuts[-1].end() :].strip()
        if tail and not types.has_prose(tail):
            answer = tail
        elif (angle := _angle_in(answer)) is not None and "\\pi" in gold:
            answer, fallback = angle, True  # "The angle is 30 degrees." against \frac{\pi}{6}
        else:
            number = last_number(answer)
            if number is None:
                verdict = Verdict(False, "prediction holds no math", answer, "expression")
                return wrong(unsure(verdict), gold)
            answer, fallback = number, True
    counted = numeric.parse_quantity(answer)
    if counted is not None and counted.unit and numeric.parse_rational(gold) is not None:
        answer = last_number(answer) or answer  # "2.75 cups" against 11/4: words on a number
    if _canonical(answer) == _canonical(gold):
        return Verdict(True, "identical after normalisation", answer, "expression", fallback)
    gold_clock = numeric.clock_seconds(gold)
    if gold_clock is not None:  # a time of day: 14:05, 14:05:00 and 2:05 PM are one time
        pred_clock = numeric.clock_seconds(answer)
        if pred_clock is None:  # "The meeting ends at 2:05 PM."
            answer = numeric.last_clock(found.text) or answer
            pred_clock = numeric.clock_seconds(answer)
        ok = pred_clock == gold_clock
        why = "same time of day" if ok else "a different time of day"
        return Verdict(ok, why, answer, "expression", fallback, certain=pred_clock is not None)
    pred_r, gold_r = numeric.parse_rational(answer), numeric.parse_rational(gold)
    if pred_r is not None and gold_r is not None:
        # Fractions compare exactly; a decimal such as 0.333333 stands for its rounding.
        decimal = "." in answer or "." in gold
        ok = numeric.close(float(pred_r), float(gold_r), rtol) if decimal else pred_r == gold_r
        how = f"rtol={rtol:g}" if decimal else "exactly"
        by_figures = (
            numeric.written_precision_match(answer, float(pred_r), gold, float(gold_r))
            if decimal and written
            else None
        )
        if by_figures is not None:
            ok, how = by_figures, "to the precision written"
        why = f"{pred_r} {'equals' if ok else 'differs from'} {gold_r} ({how})"
        return Verdict(ok, why, answer, "expression", fallback)
    pred_q, gold_q = numeric.parse_quantity(answer), numeric.parse_quantity(gold)
    if (
        pred_q
        and gold_q
        and not pred_q.unit
        and not gold_q.unit
        and not (pred_q.percent or gold_q.percent)
    ):
        ok, why = numeric.compare(pred_q, gold_q, rtol=1e-6)
        return Verdict(ok, why, answer, "expression", fallback)
    if pred_q and pred_q.unit and _is_angle(pred_q.unit) and "\\pi" in gold:
        # 30^\circ against \frac{\pi}{6}: the reference is in radians
        radians = numeric.registry().Quantity(pred_q.value, pred_q.unit).to("radian").magnitude

        def finish_angle(value: float | None) -> Verdict:
            if value is None:
                return Verdict(False, "reference has no numeric value", answer, "expression")
            ok = numeric.close(float(radians), value, rtol)
            why = f"{pred_q.value:g} {pred_q.unit} is {radians:.6g} rad"
            return Verdict(
                ok,
                f"{why}, {'equal to' if ok else 'not'} {value:.6g}",
                answer,
                "expression",
                fallback,
            )

        return Pending(("number", (gold,)), finish_angle, gold, "expression", answer, fallback)

    def finish(result: list[Any]) -> Verdict:
        correct, reason = result
        certain = reason != "prediction could not be parsed as math"
        return Verdict(correct, reason, answer, "expression", fallback, certain)

    task = ("equal", (answer, gold, rtol, written))
    return Pending(task, finish, gold, "expression", answer, fallback)


# Where a sentence hands over to its value: "is", "are", "equals", ":" (`said`), or "=".
_PROSE_CUT = re.compile(r"\s(?:(?P<said>is|are|equals|:)|=)\s")
_CANON_DROP = re.compile(r"\s+|\\[,;:! ]|\\left|\\right|\\displaystyle")


def _canonical(s: str) -> str:
    return _CANON_DROP.sub("", s)


def choice_check(
    found: Candidate | None, readings: Readings, gold: str, choices: list[str] | None
) -> Step:
    """Option letters (or option texts or values) as sets. The letter is read, in order, from
    the model's box, its last answer statement ("Answer: B" after "I think A"), an analysis
    that marks one option correct, its last sentence ("Therefore, D."), running text, the
    option's text, an ordinal ("the third option") and, for an answer with a value, the option
    of equal value (`\\sqrt{20}` for `2\\sqrt{5}`); the letters a text rules out ("not C",
    "B and C fail", "不是 A") never count. `found` is the response's first candidate, read
    without the question (whose words name the options)."""
    gold_letters = choice.letters(gold, choices)
    if gold_letters is None:
        return data_error(f"'{gold[:60]}' names no option letter", "choice")
    whole = readings.whole()
    if found is not None and found.how == "statement" and whole is not None:
        found = replace(whole, rule=found.rule)  # a short statement: its letters, not its value
    chosen = _chosen(found, readings, choices)
    if chosen is None:
        chosen = readings.letters_in_prose(choices)
    if chosen is None and found is not None and not found.fallback:
        said = choice.letters(found.text, choices)
        chosen = None if said is None else replace(found, value=said)
    if chosen is None:
        chosen = readings.letters_by_ordinal(choices)
    if chosen is None:
        shown = found.text[:200] if found else None
        if choices and found is not None:
            return _choice_by_value(found, shown or "", gold_letters, choices)
        why = "no option letter found in the prediction"
        return Verdict(False, why, shown, "choice", certain=False)
    ok, why = choice.compare(chosen.value, gold_letters)
    shown = ", ".join(sorted(chosen.value))
    return Verdict(ok, why, shown, "choice", chosen.fallback, rule=chosen.rule)


def _chosen(
    found: Candidate | None, readings: Readings, choices: list[str] | None
) -> Candidate | None:
    """The letters the response commits to in so many words (as the candidate's `value`), or
    None; a box that holds a formula rather than a letter yields to a letter stated in words
    after it ("$\\boxed{E = mc^2}$, option C", "**Answer: D**")."""
    if found is not None and found.how == "boxed":
        boxed = choice.letters(found.text, choices) or choice.stated(
            found.text, choice.options(choices)
        )
        if boxed and not choice.is_letter_only(found.text, choices):
            return readings.letters_after_box(choices) or replace(found, value=boxed)
        if boxed:
            return replace(found, value=boxed)
    said = readings.letters_stated(choices)
    if said is not None:
        return said
    if found is not None and not found.fallback:  # "(A)(C)", "B.", "C，不是 A"
        letters = choice.letters(found.text, choices, spaced=False, by_text=False)
        if letters:
            return replace(found, value=letters)
    return readings.letters_marked(choices)


def _choice_by_value(
    found: Candidate, shown: str, gold: frozenset[str], choices: list[str]
) -> Step:
    """The option whose value equals the answer's (the last side of its last `$...$` span, if
    it ends in one), by math-verify in the sandbox."""
    spans = found.text.split("$")
    last = spans[-2] if len(spans) >= 3 and spans[-2] else found.text
    answer = last.rsplit("=", 1)[-1].strip()
    options = tuple(clean(option) for option in choices[: len(choice.ALPHABET)])

    def finish(index: int | None) -> Verdict:
        if index is None:
            why = "no option letter found in the prediction, and no option has its value"
            return Verdict(False, why, shown, "choice", certain=False)
        ok, why = choice.compare(frozenset(choice.ALPHABET[index]), gold)
        return Verdict(ok, f"{why} (by the option's value)", answer, "choice", rule="choice_value")

    return Pending(("option_index", (answer, options)), finish, "", "choice", answer, False)


def text_check(found: Candidate, readings: Readings, gold: str) -> Verdict:
    """Normalised text; an unanchored long answer is judged by its last line (a fallback)."""
    answer, fallback = found.text, found.fallback
    if fallback:  # a long unanchored text: its last line is the best guess
        answer = clean(readings.last_line)[:MAX_ANSWER_CHARS]
    correct, why = text.compare(answer, gold)
    # differing texts may still say the same ("Paris, the capital" and "Paris"): a judge's call
    return Verdict(correct, why, answer, "text", fallback, certain=correct is True)


def smiles_check(found: Candidate, gold: str) -> Verdict:
    """Molecules by RDKit canonical SMILES."""
    answer = text.unwrap_text(found.text).strip()
    if found.how == "whole" and " " in answer:  # "The product is CCO": take the last token
        answer = answer.rsplit(" ", 1)[-1]
    correct, why = smiles.compare(answer, gold)
    return Verdict(correct, why, answer, "smiles", found.fallback)


def external_check(
    kind: str, found: Candidate | None, gold: str, options: dict[str, Any]
) -> Verdict:
    """Scientific formats live in `sciinstruct.sciformats.answer_checkers.CHECKERS` (imported
    lazily); `found` is the response's first candidate."""
    try:
        from sciinstruct.sciformats.answer_checkers import CHECKERS
    except ImportError as exc:
        return Verdict(
            None,
            f"answer type '{kind}' needs sciinstruct.sciformats.answer_checkers, "
            f"which cannot be imported ({exc})",
            None,
            kind,
        )
    checker = CHECKERS.get(kind)
    if checker is None:
        return Verdict(None, f"sciinstruct.sciformats has no checker for '{kind}'", None, kind)
    if found is None:
        return Verdict(False, "no answer found in the prediction", None, kind)
    try:
        correct, why = checker(found.text, gold, options)
    except ValueError as exc:
        return data_error(str(exc), kind, found.text)
    except Exception as exc:  # a checker bug must not take a whole batch down
        return Verdict(False, f"checker failed: {type(exc).__name__}: {exc}", found.text, kind)
    return Verdict(bool(correct), why, found.text, kind, found.fallback)
