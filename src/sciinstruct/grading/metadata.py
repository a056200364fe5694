"""Per-question metadata: what a question carries besides its answer.

A question's `metadata` dict travels to the scientific-format checkers (a design task's
`constraints`, a sequence's `sequence_kind`) and may set its own numeric tolerance: `rtol`
(relative) and `atol` (absolute, in the reference's unit), read by `tolerance.Tolerance.parse`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


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
