"""A question's numeric tolerance: a value with an explicit mode, parsed once.

Three modes, because "1%" means different things depending on who asked for it:

- `written` (nothing asked for): a whole-number reference without a unit is a count and must
  match exactly (GSM8K's 100 apples), a decimal against an exact value is judged by the figures
  written (`numeric.written_precision_match`), and anything else at 1%.
- `relative` (the caller's `rtol`, or a question's `metadata["rtol"]`): every number at that
  relative tolerance, counts included. `--rtol 0.01` is therefore not the same as giving nothing:
  it asks for 1% everywhere, and the mode says so.
- `absolute` (a question's `metadata["atol"]`, in the reference's unit, for a pH or an angle
  near zero): within `atol`, or within the question's `rtol` (1% unless it sets one).

A tolerance the caller passes explicitly wins over the question's, so a benchmark can grade every
question at its own published tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# 1%: SciBench publishes 5%; 1% is what "9.8 equals 9.81" needs and no more.
DEFAULT_RTOL = 0.01

Mode = Literal["written", "relative", "absolute"]


@dataclass(frozen=True)
class Tolerance:
    """How close a number must be to the reference: `mode`, `rtol` (relative), `atol`
    (absolute, in the reference's unit)."""

    mode: Mode = "written"
    rtol: float = DEFAULT_RTOL
    atol: float = 0.0

    @property
    def by_figures(self) -> bool:
        """Whether a decimal against an exact value is judged by the precision written."""
        return self.mode == "written"

    @property
    def counts_exact(self) -> bool:
        """Whether a whole-number reference without a unit (a count) must match exactly."""
        return self.mode == "written"

    @classmethod
    def parse(cls, rtol: float | None, metadata: Mapping[str, Any]) -> Tolerance:
        """The tolerance in force: the caller's `rtol` when given, else the question's
        `rtol`/`atol` from `metadata`, else the `written` default. Raises ValueError for a
        tolerance that is not a number >= 0 (a data error)."""
        if rtol is not None:
            return cls("relative", _number(rtol, "rtol"), 0.0)
        meta_rtol, meta_atol = metadata.get("rtol"), metadata.get("atol")
        if meta_rtol is None and meta_atol is None:
            return cls()
        relative = DEFAULT_RTOL if meta_rtol is None else _number(meta_rtol, "metadata rtol")
        absolute = 0.0 if meta_atol is None else _number(meta_atol, "metadata atol")
        return cls("absolute" if absolute else "relative", relative, absolute)


def _number(value: Any, name: str) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return number
