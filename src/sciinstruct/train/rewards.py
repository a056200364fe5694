"""Reward functions for GRPO: plain callables `(completions, **columns) -> list[float | None]`.

TRL calls each reward with the batch's completions (strings, or chat message lists for chat
prompts) and every other dataset column as a keyword list (`answer`, `answer_type`, `unit`, ...).
`None` means "no reward for this row" (e.g. an ungradable reference), which TRL leaves out.

Rewards are looked up by name in a registry. Add your own with `@register_reward("name")`, or
name any importable callable as `package.module:function` in a recipe. The scientific-format
rewards of `sciinstruct.sciformats.rewards` (SMILES validity, Tanimoto similarity, ...) are
registered on first lookup when that module is present.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sciinstruct.errors import InputError, did_you_mean

RewardFunc = Callable[..., list[float | None]]

REWARDS: dict[str, RewardFunc] = {}
_SCIFORMATS_MODULE = "sciinstruct.sciformats.rewards"
# How the grader found the answer: these mean the model stated it; the last-number fallback and a
# bare one-line reply do not count as following the format.
_EXPLICIT = ("boxed", "answer_is", "answer_label")


def register_reward(name: str) -> Callable[[RewardFunc], RewardFunc]:
    """Decorator: make a reward function available by `name` in recipes and `--set rewards=`."""

    def add(func: RewardFunc) -> RewardFunc:
        REWARDS[name] = func
        return func

    return add


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the content of the last chat message."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        return str(completion[-1].get("content", ""))
    return ""


@register_reward("correctness")
def correctness(completions: list[Any], answer: list[str], **kw: Any) -> list[float | None]:
    """1.0 when the grader finds the final answer equal to the reference, else 0.0.

    Grading is `sciinstruct.grading.correctness_reward`, the same grader as annotation and
    evaluation (units, tolerance, SMILES, expressions); per-row `answer_type`, `unit`, `choices`
    and `metadata` (per-question tolerances) columns are passed through. A reference the grader cannot parse gives None (a data error, not 0).
    """
    from sciinstruct.grading import correctness_reward

    texts = [completion_text(c) for c in completions]
    extra = {k: kw[k] for k in ("answer_type", "unit", "choices", "metadata") if k in kw}
    return correctness_reward(texts, answer, **extra)


@register_reward("format")
def answer_format(completions: list[Any], **kw: Any) -> list[float | None]:
    """1.0 when a final answer is stated explicitly (`\\boxed{}`, "the answer is", "Answer:")."""
    from sciinstruct.grading.extract import extract

    rewards: list[float | None] = []
    for completion in completions:
        found = extract(completion_text(completion))
        rewards.append(1.0 if found is not None and found.how in _EXPLICIT else 0.0)
    return rewards


def _register_sciformats() -> None:
    """Register the scientific-format rewards if their module is installed (lazy: RDKit)."""
    try:
        module = importlib.import_module(_SCIFORMATS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != _SCIFORMATS_MODULE:
            raise
        return
    table = getattr(module, "REWARDS", None)
    if isinstance(table, dict):
        for name, func in table.items():
            REWARDS.setdefault(name, func)
        return
    for name in dir(module):
        if name.endswith("_reward") and callable(getattr(module, name)):
            REWARDS.setdefault(name.removesuffix("_reward"), getattr(module, name))


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
        _register_sciformats()
    if name not in REWARDS:
        hint = did_you_mean(name, REWARDS)
        hint = f"; {hint}" if hint else ""
        known = ", ".join(sorted(REWARDS))
        raise InputError(f"unknown reward {name!r}{hint} (known: {known})", field="rewards")
    return REWARDS[name]


def available_rewards() -> list[str]:
    """Every registered reward name, scientific-format rewards included."""
    _register_sciformats()
    return sorted(REWARDS)
