"""The reward registry for GRPO: plain callables `(completions, **columns) -> list[float | None]`.

TRL calls each reward with the batch's `prompts`, its completions (strings, or chat message lists
for chat prompts) and every other dataset column as a keyword list (`answer`, `answer_type`,
`unit`, `metadata`, ...). `None` means "no reward for this row" (e.g. an ungradable reference),
which TRL leaves out.

This is the package's only reward registry: each reward has one name, and registering a second
function under a taken name is an error. Built in:

- `correctness` — the grader's verdict against the reference (`sciinstruct.grading`), with the
  question's tolerance and the question's text (an answer that only repeats a given earns 0);
- `format` — the final answer is stated explicitly (`\\boxed{}`, "the answer is", "Answer:");
- `extracted` — the grader can extract any final answer (its fallbacks included);
- `validity`, `constraints`, `tanimoto`, `checks` — scientific formats (`science_rewards`).

Add your own with `@register_reward("name")`, or name any importable callable as
`package.module:function` in a recipe.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sciinstruct.errors import InputError, did_you_mean
from sciinstruct.grading.reward import completion_text, correctness_reward
from sciinstruct.train import science_rewards

RewardFunc = Callable[..., list[float | None]]

REWARDS: dict[str, RewardFunc] = {}
# How the grader found the answer: these mean the model stated it; the last-number fallback and a
# bare one-line reply do not count as following the format.
_EXPLICIT = ("boxed", "answer_is", "answer_label")

__all__ = [
    "REWARDS",
    "RewardFunc",
    "available_rewards",
    "completion_text",
    "get_reward",
    "register_reward",
]


def register_reward(name: str) -> Callable[[RewardFunc], RewardFunc]:
    """Decorator: make a reward function available by `name` in recipes and `--set rewards=`.

    A name names one reward: registering a different function under a taken name raises
    (re-registering the same function, as a module reload does, is allowed)."""

    def add(func: RewardFunc) -> RewardFunc:
        taken = REWARDS.get(name)
        if taken is not None and taken is not func:
            raise ValueError(
                f"a reward named {name!r} is already registered "
                f"({taken.__module__}.{taken.__qualname__}); pick another name"
            )
        REWARDS[name] = func
        return func

    return add


@register_reward("correctness")
def correctness(
    completions: list[Any], answer: list[str], prompts: list[Any] | None = None, **kw: Any
) -> list[float | None]:
    """1.0 when the grader finds the final answer equal to the reference, else 0.0.

    The same grader as annotation and evaluation (units, tolerance, SMILES, expressions), with
    every column TRL passes: per-row `answer_type`, `unit`, `choices`, `metadata` (the question's
    own `rtol`/`atol`) and an `rtol` column, and TRL's `prompts`, so an answer that only repeats a
    quantity the question gives earns 0, as in annotation. A reference the grader cannot parse
    gives None (a data error, not 0).
    """
    return correctness_reward(completions, answer, prompts=prompts, **kw)


@register_reward("format")
def answer_format(completions: list[Any], **kw: Any) -> list[float | None]:
    """1.0 when a final answer is stated explicitly (`\\boxed{}`, "the answer is", "Answer:")."""
    from sciinstruct.grading.rules import extract

    rewards: list[float | None] = []
    for completion in completions:
        found = extract(completion_text(completion))
        rewards.append(1.0 if found is not None and found.how in _EXPLICIT else 0.0)
    return rewards


register_reward("extracted")(science_rewards.extracted_answer)
register_reward("validity")(science_rewards.validity_reward)
register_reward("constraints")(science_rewards.constraint_reward)
register_reward("tanimoto")(science_rewards.tanimoto_reward)
register_reward("checks")(science_rewards.checks_reward)


def _import_callable(spec: str) -> RewardFunc:
    module_name, _, attr = spec.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot import reward {spec!r} ({exc})", field="rewards") from exc
    if not callable(func):
        raise InputError(f"reward {spec!r} is not callable", field="rewards")
    return func


def get_reward(name: str) -> RewardFunc:
    """The reward registered as `name`, or the callable at `module:function`."""
    if ":" in name:
        return _import_callable(name)
    if name not in REWARDS:
        hint = did_you_mean(name, REWARDS)
        hint = f"; {hint}" if hint else ""
        known = ", ".join(sorted(REWARDS))
        raise InputError(f"unknown reward {name!r}{hint} (known: {known})", field="rewards")
    return REWARDS[name]


def available_rewards() -> list[str]:
    """Every registered reward name."""
    return sorted(REWARDS)
