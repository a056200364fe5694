"""The grader as a TRL reward function: 1.0 right, 0.0 wrong, None for a bad reference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sciinstruct.grading.grader import grade_many


def _completion_text(completion: Any) -> str:
    """A completion as text: TRL passes strings, or chat message lists in conversational mode."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    if isinstance(completion, Sequence) and completion:
        last = completion[-1]
        return str(last.get("content", "")) if isinstance(last, dict) else str(last)
    return ""


def correctness_reward(
    completions: Sequence[Any], references: Sequence[str] | None = None, **kw: Any
) -> list[float | None]:
    """Reward each completion by the grader's verdict against its reference answer.

    Usable directly as `GRPOTrainer(reward_funcs=[correctness_reward])`: TRL passes the
    dataset's columns as keyword lists, so `references` may also arrive as `answer` (the column
    name in `grpo.jsonl`), and per-row `answer_type`, `unit` (and `choices`) are honoured.
    None tells TRL to skip the example: its reference could not be graded against.
    """
    if references is None:
        references = kw.get("answer")
    if references is None:
        raise ValueError("correctness_reward needs `references` (or an `answer` column)")
    verdicts = grade_many(
        [_completion_text(c) for c in completions],
        [str(r) for r in references],
        answer_types=kw.get("answer_type"),
        units=kw.get("unit"),
        rtol=float(kw.get("rtol", 0.01)),
        choices=kw.get("choices"),
        workers=kw.get("workers"),
    )
    return [None if v.correct is None else float(v.correct) for v in verdicts]
