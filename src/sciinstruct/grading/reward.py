"""The grader as a TRL reward function: 1.0 right, 0.0 wrong, None for a bad reference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sciinstruct.grading.grader import grade_many
from sciinstruct.grading.metadata import load_metadata


def completion_text(completion: Any) -> str:
    """A completion or prompt as text: TRL passes strings, or chat message lists in
    conversational mode, where the text is the last message's content (the model's reply in a
    completion, the user's question at the end of a prompt). The one such helper of the package:
    every reward reads completions through it."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, Sequence) and completion:
        last = completion[-1]
        return str(last.get("content") or "") if isinstance(last, dict) else str(last)
    return ""


def correctness_reward(
    completions: Sequence[Any], references: Sequence[str] | None = None, **kw: Any
) -> list[float | None]:
    """Reward each completion by the grader's verdict against its reference answer.

    Usable directly as `GRPOTrainer(reward_funcs=[correctness_reward])`: TRL passes the
    dataset's columns as keyword lists, so `references` may also arrive as `answer` (the column
    name in `grpo.jsonl`), and per-row `answer_type`, `unit`, `choices` and `metadata` (a dict or
    its JSON text; its `rtol`/`atol` set that question's tolerance) are honoured. `rtol` may be
    one number for every row or a per-row column. None tells TRL to skip the example: its
    reference could not be graded against. With TRL's `prompts` (the question) an answer that
    only repeats a quantity the question gives, converted, earns 0: a policy must not learn that.
    """
    if references is None:
        references = kw.get("answer")
    if references is None:
        raise ValueError("correctness_reward needs `references` (or an `answer` column)")
    rtol, metadata = kw.get("rtol"), kw.get("metadata")
    if isinstance(rtol, Sequence) and not isinstance(rtol, str):
        metadata = _with_row_rtol(metadata, rtol)  # a column: each row's own tolerance
        rtol = None
    prompts = kw.get("prompts")  # with the question's text, a repeated given earns nothing
    verdicts = grade_many(
        [completion_text(c) for c in completions],
        [str(r) for r in references],
        answer_types=kw.get("answer_type"),
        units=kw.get("unit"),
        rtol=None if rtol is None else float(rtol),
        choices=kw.get("choices"),
        workers=kw.get("workers"),
        metadata=metadata,
        questions=None if prompts is None else [completion_text(p) for p in prompts],
    )
    return [None if v.correct is None else float(v.correct) for v in verdicts]


def _with_row_rtol(metadata: Sequence[Any] | None, rtols: Sequence[Any]) -> list[Any]:
    """Per-row metadata with each row's `rtol` column value folded in (None rows keep theirs)."""
    rows = list(metadata) if metadata is not None else [None] * len(rtols)
    if len(rows) != len(rtols):
        raise ValueError(f"rtol has {len(rtols)} items but metadata has {len(rows)}")
    merged: list[Any] = []
    for meta, rtol in zip(rows, rtols, strict=True):
        if rtol is None:
            merged.append(meta)
            continue
        try:
            merged.append({**load_metadata(meta), "rtol": rtol})
        except ValueError:  # unreadable metadata: the grader reports that row as a data error
            merged.append(meta)
    return merged
