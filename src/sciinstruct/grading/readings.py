"""The readings of a response that a check may ask for besides its ranked answer.

A check compares a `Candidate` with a `Reference`; it never reads the response itself. When the
answer a rule found does not settle it (an unanchored solution whose last number is a condition,
a unit written after the box), the check asks a `Readings` for a named reading, each a
`Candidate` whose `rule` says how it was read and whose `value` is the `numeric.Quantity` read:

- `last_quantity`: the last quantity of the text, unit included (an unanchored solution's
  fallback);
- `last_in_dimension`: the last quantity near the end whose unit converts to the asked one
  ("... gives 475 m s^-1 for N2 at 298 K": not the temperature);
- `display_result`: the value the last display equation ends with, in the asked dimension;
- `unit_after`: the unit written right after the box or math span an answer was read from;
- `whole`: a response of one short line, as its own answer;
- for a list answer: `final_lines` (the final line, with the part-labelled lines just before
  it), `answer_line` (the whole line after the last answer statement), `boxes` (every box, its
  line up to it as its `value`), `before_box` (the few characters before the last box) and
  `lines` (the response's lines, read part by part);
- `math_verify_response`: the end of the response as math-verify's own extraction reads it,
  for the second look at an answer the rules found only in unanchored text;
- the option letters a choice check asks for, each a candidate whose `value` is the set of
  letters: `choice_statement` (the last answer statement), `choice_after_box` (a letter stated
  after a box that holds a formula), `choice_marked` (the one option a per-option analysis marks
  correct), `choice_in_prose` (what running text settles on), `choice_ordinal` ("the third
  option").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sciinstruct.grading import choice, numeric, quantities
from sciinstruct.grading.extract import (
    Candidate,
    after_boxed,
    box_lines,
    clean,
    committed,
    is_short,
    last_match,
)
from sciinstruct.grading.lexicon import PART_LABEL
from sciinstruct.grading.rules import stated_line

# How far back from the end a solution's result in the asked dimension is looked for.
_DIMENSION_WINDOW_CHARS = 600
_DISPLAY_WINDOW_CHARS = 2000
# math-verify reads the response's end: a final answer sits there, and the scan stays cheap.
_MATH_VERIFY_CHARS = 4000
# The end of a response holds its final statement; a list answer never needs more.
_FINAL_LINES_CHARS = 400
_DISPLAY = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.DOTALL)


@dataclass(frozen=True)
class Readings:
    """The prepared response (its own turn, numbers in one spelling), read on demand."""

    text: str

    @property
    def has_math(self) -> bool:
        """Whether the response writes any math markup (`$`)."""
        return "$" in self.text

    @property
    def last_line(self) -> str:
        return self.text.strip().rsplit("\n", 1)[-1]

    def states_factor(self) -> bool:
        """Whether the response calls its answer a factor (0.125 of it, not 12.5%)."""
        return numeric.states_factor(self.text)

    def last_quantity(self) -> Candidate | None:
        found = quantities.last_quantity(self.text)
        return _quantity(found, "last_quantity")

    def last_in_dimension(self, unit: str) -> Candidate | None:
        """The last quantity of the end of the text whose unit converts to `unit`."""
        target = numeric.parse_unit(unit)
        if target is None:
            return None
        for found in reversed(quantities.all_quantities(self.text[-_DIMENSION_WINDOW_CHARS:])):
            source = numeric.parse_unit(found.quantity.unit)
            if source is not None and source.dimensionality == target.dimensionality:
                return _quantity(found, "last_in_dimension")
        return None

    def display_result(self, unit: str) -> Candidate | None:
        """The quantity the last display equation of the end of the text ends with, when it is
        in the dimension of `unit`."""
        last = last_match(_DISPLAY, self.text[-_DISPLAY_WINDOW_CHARS:])
        if last is None:
            return None
        side = numeric.last_side(clean(last.group(1) or last.group(2)).rstrip(".,;"))
        quantity = numeric.parse_quantity(side)
        if quantity is None or not same_dimension(quantity.unit, unit):
            return None
        return Candidate(side, "last_number", "display_result", None, quantity)

    def unit_after(self, found: Candidate) -> str | None:
        """The unit written right after the box or math span `found` was read from, if any."""
        if found.how == "boxed":
            return quantities.unit_at(after_boxed(self.text))
        if found.how not in ("answer_is", "answer_label", "statement"):
            return None
        at = self.text.rfind(found.text)
        rest = self.text[at + len(found.text) :] if at >= 0 else ""
        # only past the closing `$`: "$x = 5$ m", not "5 and 3 m"
        tail = rest.lstrip()
        for close in ("$", "\\)"):
            if tail.startswith(close):
                return quantities.unit_at(tail[len(close) :])
        return None

    def whole(self) -> Candidate | None:
        """The response itself when it is one short line."""
        if not is_short(self.text):
            return None
        return Candidate(clean(self.text), "whole", "short_response", (0, len(self.text)))

    def math_verify_view(self) -> Candidate:
        """The end of the response it commits to (hypotheticals and rejected values left out),
        for math-verify to read with its own extraction."""
        view = committed(self.text.strip())[-_MATH_VERIFY_CHARS:]
        return Candidate(view, "last_number", "math_verify_response")

    def final_lines(self) -> Candidate | None:
        """The final line, with the part-labelled lines just before it ("(a) 12 ; (b) 18")."""
        lines = [ln.strip() for ln in self.text.strip().splitlines() if ln.strip()]
        if not lines:
            return None
        tail = [lines.pop()]
        while lines and PART_LABEL.match(tail[0]) and PART_LABEL.match(lines[-1]):
            tail.insert(0, lines.pop())
        return Candidate(" ; ".join(tail)[-_FINAL_LINES_CHARS:], "statement", "final_lines")

    def answer_line(self) -> Candidate | None:
        """The whole line after the last "the answer is" or "Answer:", before any value is cut
        from it ("Ответ: 2; 7." states two values)."""
        line = stated_line(self.text)
        return None if line is None else Candidate(line, "answer_label", "answer_line")

    def boxes(self) -> tuple[Candidate, ...]:
        """Every complete box, in order, with the line it sits on (up to it) as its `value`."""
        return tuple(
            Candidate(contents, "boxed", "boxed", None, line)
            for line, contents in box_lines(self.text)
        )

    def before_last_box(self) -> Candidate | None:
        """The few characters written just before the last box (`x \\in`, `(R, \\delta) =`)."""
        start = self.text.rfind("\\boxed")
        if start < 0:
            return None
        return Candidate(self.text[max(0, start - 40) : start], "boxed", "before_box")

    def lines(self) -> Candidate:
        """The response's lines that are not blank (as the `value`), for an answer read part by
        part."""
        lines = tuple(ln for ln in self.text.splitlines() if ln.strip())
        return Candidate("\n".join(lines), "statement", "parts_reading", None, lines)

    def letters_stated(self, choices: list[str] | None) -> Candidate | None:
        return _letters(choice.stated_letters(self.text, choices), "choice_statement")

    def letters_after_box(self, choices: list[str] | None) -> Candidate | None:
        after = after_boxed(self.text)
        letter = choice.find_in_text(after, choice.options(choices))
        stated = choice.stated_letters(after, choices) or (frozenset(letter) if letter else None)
        return _letters(stated, "choice_after_box")

    def letters_marked(self, choices: list[str] | None) -> Candidate | None:
        return _letters(choice.marked_correct(self.text, choice.options(choices)), "choice_marked")

    def letters_in_prose(self, choices: list[str] | None) -> Candidate | None:
        letters, only_there = choice.in_prose(self.text, choice.options(choices))
        return _letters(letters, "choice_in_prose", "last_number" if only_there else "statement")

    def letters_by_ordinal(self, choices: list[str] | None) -> Candidate | None:
        return _letters(choice.by_ordinal(self.text, choices), "choice_ordinal")


def _letters(
    letters: frozenset[str] | None, rule: str, how: str = "answer_label"
) -> Candidate | None:
    """A reading of option letters: `how` is `last_number` when only running text named them."""
    return None if not letters else Candidate(", ".join(sorted(letters)), how, rule, None, letters)


def same_dimension(unit: str, other: str) -> bool:
    parsed, target = numeric.parse_unit(unit) if unit else None, numeric.parse_unit(other)
    return None not in (parsed, target) and parsed.dimensionality == target.dimensionality


def _quantity(found: quantities.Found | None, rule: str) -> Candidate | None:
    if found is None:
        return None
    return Candidate(found.text, "last_number", rule, None, found.quantity)
