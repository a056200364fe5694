"""sciinstruct's rewards for TRL's GRPOTrainer.

TRL 1.x calls each reward function as `f(prompts=..., completions=..., completion_ids=...,
trainer_state=..., log_extra=..., log_metric=..., **dataset_columns)` (see
`GRPOTrainer._calculate_rewards`) and reads back one float or None per completion. The
registry's rewards (`sciinstruct.train.get_reward("correctness")`, ...) already take that call;
this module adds the two things a TRL user asks for besides:

- `reward_funcs(["correctness", "format"])`: the registered rewards by name, for
  `GRPOTrainer(reward_funcs=..., args=GRPOConfig(reward_weights=[1.0, 0.1]))`, which logs each
  one under its own name;
- `shaped_reward(["correctness", "format"], weights=[1.0, 0.1])`: one reward that is their
  weighted sum, the same score verl and OpenRLHF get from `sciinstruct.integrations`, which also
  logs the grader's accuracy and data-error rate through `log_metric` and its extracted answer
  and reason through `log_extra` (shown in TRL's completions table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sciinstruct.grading.reward import completion_text
from sciinstruct.integrations.scoring import DEFAULT_TIMEOUT_S, RewardSelection, score_many
from sciinstruct.train import get_reward

__all__ = ["reward_funcs", "shaped_reward"]

RewardFunc = Callable[..., list[float | None]]
# Dataset columns that travel into a reference (`sciinstruct.integrations.reference`).
_REFERENCE_COLUMNS = ("unit", "answer_type", "choices", "metadata")


def reward_funcs(names: str | Sequence[str]) -> list[RewardFunc]:
    """The registered rewards `names` (a list or `a,b` text), in order."""
    return [get_reward(name) for name in RewardSelection.of(names).names]


def shaped_reward(
    rewards: str | Sequence[str] | None = None,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> RewardFunc:
    """One TRL reward: the weighted sum of the selected rewards for each completion (None, which
    TRL skips, when the row's reference cannot be graded against)."""
    selection = RewardSelection.of(rewards, weights)

    def reward(
        completions: Sequence[Any],
        answer: Sequence[Any] | None = None,
        prompts: Sequence[Any] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list[Any]], None] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        if answer is None:
            raise ValueError("the dataset needs an `answer` column (the reference answers)")
        references = [
            {"answer": a, **{k: columns[k][i] for k in _REFERENCE_COLUMNS if k in columns}}
            for i, a in enumerate(answer)
        ]
        questions = None if prompts is None else [completion_text(p) for p in prompts]
        rows = score_many(
            [completion_text(c) for c in completions],
            references,
            questions,
            selection,
            timeout=timeout,
        )
        if log_metric is not None and rows:
            log_metric("sciinstruct/accuracy", sum(r["acc"] for r in rows) / len(rows))
            log_metric("sciinstruct/data_errors", sum(r["data_error"] for r in rows) / len(rows))
        if log_extra is not None:
            log_extra("sciinstruct_pred", [r["pred"] for r in rows])
            log_extra("sciinstruct_reason", [r["reason"] for r in rows])
        return [None if r["data_error"] else r["score"] for r in rows]

    reward.__name__ = "sciinstruct_" + "_".join(selection.names)  # TRL logs rewards by name
    return reward
