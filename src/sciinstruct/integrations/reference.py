"""A reference answer as RL frameworks carry it: a string, or a dict with the grading options.

verl stores `reward_model.ground_truth` per row (any JSON value), OpenRLHF passes `labels` (the
dataset's `--label_key` column, often a string, sometimes a JSON object), and the grading server
takes one reference per item. All of them land here, so one reference means the same thing to
every adapter:

    "3 kJ"
    {"answer": "3 kJ", "unit": "J", "answer_type": "numeric", "tolerance": 0.02}
    {"answer": "B", "answer_type": "choice", "choices": ["1 m", "2 m", "3 m", "4 m"]}

`tolerance` (or `rtol`) is the question's relative tolerance and `atol` its absolute one; both go
into the question's metadata, where the grader reads a question's own tolerance. A JSON object
written as text (a dataset column serialised) is read as that object.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Keys a reference dict may hold; anything else is refused so a typo never grades silently.
_KEYS = frozenset(
    {
        "answer",
        "unit",
        "answer_type",
        "choices",
        "tolerance",
        "rtol",
        "atol",
        "metadata",
        "question",
    }
)


class ReferenceError(ValueError):
    """A reference that cannot be read: the data's fault, reported, never scored as wrong."""


@dataclass(frozen=True)
class Reference:
    """One reference answer and the options the grader takes with it."""

    answer: str
    answer_type: str = "auto"
    unit: str | None = None
    choices: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    question: str | None = None

    def columns(self) -> dict[str, Any]:
        """This reference as one row of the dataset columns the reward registry reads."""
        return {
            "answer": self.answer,
            "answer_type": self.answer_type,
            "unit": self.unit,
            "choices": self.choices,
            "metadata": self.metadata,
        }


def parse_reference(ground_truth: Any, question: str | None = None) -> Reference:
    """`ground_truth` (a string, a number, a dict, or a dict's JSON text) as a Reference;
    `question` (from the framework's extra info) is used unless the dict names its own."""
    if isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{"):
        # an answer that merely starts with a brace, such as a set, stays text
        with contextlib.suppress(json.JSONDecodeError):
            ground_truth = json.loads(ground_truth)
    if isinstance(ground_truth, Mapping):
        return _from_mapping(ground_truth, question)
    if ground_truth is None or isinstance(ground_truth, bool):
        raise ReferenceError(f"must be a string or an object, got {ground_truth!r}")
    if isinstance(ground_truth, int | float):
        return Reference(answer=repr(ground_truth), question=question)
    if not isinstance(ground_truth, str):
        kind = type(ground_truth).__name__
        raise ReferenceError(f"must be a string or an object, got {kind}")
    return Reference(answer=ground_truth, question=question)


def _from_mapping(gt: Mapping[str, Any], question: str | None) -> Reference:
    unknown = sorted(set(gt) - _KEYS)
    if unknown:
        raise ReferenceError(
            f"unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(sorted(_KEYS))})"
        )
    if gt.get("answer") is None:
        raise ReferenceError("an object needs an `answer`")
    answer_type = str(gt.get("answer_type") or "auto")  # the grader reads (and refuses) it
    choices = gt.get("choices")
    if choices is not None and not (
        isinstance(choices, list | tuple) and all(isinstance(c, str) for c in choices)
    ):
        raise ReferenceError("choices must be a list of option texts")
    metadata = _metadata(gt.get("metadata"))
    for key, target in (("tolerance", "rtol"), ("rtol", "rtol"), ("atol", "atol")):
        if gt.get(key) is not None:
            metadata[target] = _non_negative(gt[key], key)
    answer = gt["answer"]
    return Reference(
        answer=answer if isinstance(answer, str) else json.dumps(answer),
        answer_type=answer_type,
        unit=None if gt.get("unit") in (None, "") else str(gt["unit"]),
        choices=list(choices) if choices is not None else None,
        metadata=metadata,
        question=str(gt["question"]) if gt.get("question") else question,
    )


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ReferenceError(f"metadata is not valid JSON ({exc.msg})") from None
    if not isinstance(value, Mapping):
        raise ReferenceError("metadata must be an object")
    return dict(value)


def _non_negative(value: Any, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number >= 0:
        raise ReferenceError(f"{key} must be a number >= 0, got {value!r}")
    return number
