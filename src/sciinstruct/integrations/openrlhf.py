"""sciinstruct's grader as an OpenRLHF reward function.

OpenRLHF's `--remote_rm_url` takes a Python file that defines
`reward_func(queries, prompts, labels, **kwargs)`; it is called with lists of texts (a query is
the prompt followed by the response, decoded with special tokens; `labels` are the dataset's
`--label_key` column) and must return `{"rewards", "scores", "extra_logs"}`: `rewards` a float
tensor (the reward used for advantages), `scores` a float tensor in [0, 1] (for dynamic
filtering) and `extra_logs` a dict of tensors logged per sample. A two-line file does it:

    # reward.py, passed as --remote_rm_url reward.py --label_key answer
    from sciinstruct.integrations.openrlhf import reward_func

or `reward_func = make_reward_func(rewards=["correctness", "format"], weights=[1.0, 0.1])` for
shaped rewards. Over HTTP, `sciinstruct serve-grader` answers the same protocol at
`/get_reward`. Here `rewards` is the selection's score and `scores` the grader's 0/1 verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sciinstruct.integrations.scoring import DEFAULT_TIMEOUT_S, RewardSelection, score_many

__all__ = ["make_reward_func", "reward_func", "response_of", "to_protocol"]

# Numeric per-sample fields logged through `extra_logs` (strings cannot go in a tensor).
LOGGED = ("acc", "data_error", "fallback")


def response_of(query: str, prompt: str | None) -> str:
    """The response inside `query`: what follows the prompt (the whole query when the decoded
    prompt does not reappear in it, as a tokenizer's round trip can change spacing)."""
    if prompt and query.startswith(prompt):
        return query[len(prompt) :]
    if prompt:
        at = query.rfind(prompt)
        if at >= 0:
            return query[at + len(prompt) :]
    return query


def make_reward_func(
    rewards: str | Sequence[str] | None = None,
    weights: Mapping[str, float] | Sequence[float] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Callable[..., dict[str, Any]]:
    """An OpenRLHF `reward_func` scoring with the selected registry rewards."""
    selection = RewardSelection.of(rewards, weights)

    def reward_func(
        queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **_: Any
    ) -> dict[str, Any]:
        responses = [response_of(q, p) for q, p in zip(queries, prompts, strict=True)]
        rows = score_many(responses, list(labels), list(prompts), selection, timeout=timeout)
        return to_protocol(rows, tensors=True)

    return reward_func


def to_protocol(rows: Sequence[Mapping[str, Any]], tensors: bool) -> dict[str, Any]:
    """Score rows as OpenRLHF's reply: tensors for the in-process function, plain lists for the
    JSON of the remote protocol."""
    rewards = [float(r["score"]) for r in rows]
    scores = [float(r["acc"]) for r in rows]
    logs = {key: [float(r[key]) for r in rows] for key in LOGGED}
    if not tensors:
        return {"rewards": rewards, "scores": scores, "extra_logs": logs}
    try:
        import torch
    except ImportError as exc:  # OpenRLHF always has torch; say so for anyone else
        raise ImportError("OpenRLHF's reward protocol needs torch: pip install torch") from exc

    def as_tensor(values: list[float]) -> Any:
        return torch.tensor(values, dtype=torch.float)

    return {
        "rewards": as_tensor(rewards),
        "scores": as_tensor(scores),
        "extra_logs": {key: as_tensor(values) for key, values in logs.items()},
    }


reward_func = make_reward_func()
