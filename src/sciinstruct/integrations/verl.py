"""sciinstruct's grader as a verl custom reward function.

verl loads `custom_reward_function.name` from `custom_reward_function.path` and calls it once per
sample (`NaiveRewardManager`, the reward loop's naive manager) as
`compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)`, or once per
batch (`reward_model.reward_manager=batch`, `BatchRewardManager`) as
`compute_score(data_sources=..., solution_strs=..., ground_truths=..., extra_infos=...)`, with
`custom_reward_function.reward_kwargs` added as keyword arguments. A dict result's `score` is the
reward and every key is logged per sample (`reward_extra_info`); `pred` feeds verl's majority
vote in validation. Two lines of config:

    custom_reward_function.path=pkg://sciinstruct.integrations.verl
    custom_reward_function.name=compute_score          # compute_score_batch with the batch manager

`ground_truth` (the row's `reward_model.ground_truth`) is the reference answer as text, or a dict
with `answer`, `unit`, `answer_type`, `choices` and `tolerance` (`sciinstruct.integrations
.reference`). `extra_info["question"]` (or `["prompt"]`), when the dataset keeps it, enables the
check that an answer only restating a given quantity earns nothing. Shaped rewards by registry
name: `+custom_reward_function.reward_kwargs.rewards=[correctness,format]` and
`+custom_reward_function.reward_kwargs.weights=[1.0,0.1]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sciinstruct.integrations.scoring import DEFAULT_TIMEOUT_S, RewardSelection, score_many

__all__ = ["compute_score", "compute_score_batch"]


def compute_score(
    data_source: str | None,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    rewards: str | Sequence[str] | None = None,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    **_: Any,
) -> dict[str, Any]:
    """One sample's reward dict: `score`, `acc`, `pred`, `reason` and the verdict's flags.

    `data_source` is accepted and unused: the reference says how to grade. Other keyword
    arguments verl adds (`reward_router_address`, ...) are ignored."""
    return compute_score_batch(
        [data_source],
        [solution_str],
        [ground_truth],
        [extra_info],
        rewards=rewards,
        weights=weights,
        timeout=timeout,
    )[0]


def compute_score_batch(
    data_sources: Sequence[str | None],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    rewards: str | Sequence[str] | None = None,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    **_: Any,
) -> list[dict[str, Any]]:
    """verl's batch form: one reward dict per solution, in order."""
    selection = RewardSelection.of(rewards, weights)
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    return score_many(
        list(solution_strs),
        list(ground_truths),
        [_question(info) for info in infos],
        selection,
        timeout=timeout,
    )


def _question(extra_info: Mapping[str, Any] | None) -> str | None:
    if not isinstance(extra_info, Mapping):
        return None
    for key in ("question", "prompt", "problem"):
        value = extra_info.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None
