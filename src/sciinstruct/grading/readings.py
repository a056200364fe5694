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
- `unit_after`: the unit written right after the box or math span an answer was read from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sciinstruct.grading import numeric, quantities
from sciinstruct.grading.extract import Candidate, after_boxed, clean, last_match

# How far back from the end a solution's result in the asked dimension is looked for.
_DIMENSION_WINDOW_CHARS = 600
_DISPLAY_WINDOW_CHARS = 2000
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
        return Candidate(side, "last_number", "display_result", None, quantity)  # type: ignore[arg-type]

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


def same_dimension(unit: str, other: str) -> bool:
    parsed, target = numeric.parse_unit(unit) if unit else None, numeric.parse_unit(other)
    return None not in (parsed, target) and parsed.dimensionality == target.dimensionality


def _quantity(found: quantities.Found | None, rule: str) -> Candidate | None:
    if found is None:
        return None
    return Candidate(found.text, "last_number", rule, None, found.quantity)  # type: ignore[arg-type]
