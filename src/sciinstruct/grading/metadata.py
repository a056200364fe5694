"""Per-question metadata: what a question carries besides its answer, and the tolerances in it.

A question's `metadata` dict travels to the scientific-format checkers (a design task's
`constraints`, a sequence's `sequence_kind`) and may set its own numeric tolerance: `rtol`
(relative) and `atol` (absolute, in the reference's unit), for answers such as a pH or an angle
near zero where a relative tolerance means little. A tolerance the caller passes explicitly wins
over the question's, so a benchmark can grade every question at its own published tolerance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from sciinstruct.grading.equivalence import DEFAULT_RTOL


def load_metadata(metadata: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """Metadata as a dict: a mapping, its JSON text (a dataset column serialised), or None.

    Raises ValueError for anything else, which the grader reports as a data error.
    """
    if metadata is None:
        return {}
    if isinstance(metadata, str):
        if not metadata.strip():
            return {}
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise ValueError(f"metadata is not valid JSON ({exc.msg})") from None
    if not isinstance(metadata, Mapping):
        raise ValueError(f"metadata must be a JSON object, got {type(metadata).__name__}")
    return dict(metadata)


def tolerances(rtol: float | None, metadata: Mapping[str, Any]) -> tuple[float, float]:
    """`(rtol, atol)` for a question: the caller's `rtol` when given (atol 0), else the
    question's `rtol`/`atol` from metadata, else the default 1% and no absolute tolerance."""
    if rtol is not None:
        return float(rtol), 0.0
    return (
        _tolerance(metadata, "rtol", DEFAULT_RTOL),
        _tolerance(metadata, "atol", 0.0),
    )


def _tolerance(metadata: Mapping[str, Any], key: str, default: float) -> float:
    value = metadata.get(key)
    if value is None:
        return default
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"metadata {key} must be a number >= 0, got {value!r}")
    return number
