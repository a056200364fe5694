"""GRPO reward functions: the grader's correctness, the answer format, the registry."""

from __future__ import annotations

import pytest

from sciinstruct.errors import InputError
from sciinstruct.train import rewards
from sciinstruct.train.rewards import (
    answer_format,
    available_rewards,
    correctness,
    get_reward,
    register_reward,
)


def test_correctness_grades_strings_and_chat_completions() -> None:
    completions = [
        "so 2 + 2 = \\boxed{4}",
        [{"role": "assistant", "content": "The answer is 5."}],
        "The energy is \\boxed{3 kJ}",
    ]
    scores = correctness(
        completions,
        answer=["4", "4", "3000 J"],
        answer_type=["numeric", "numeric", "numeric"],
        unit=[None, None, None],
    )
    assert scores == [1.0, 0.0, 1.0]


def test_format_rewards_an_explicit_final_answer_only() -> None:
    completions = [
        "2 + 2 = 4, so \\boxed{4}",
        "Final answer: 12 m/s",
        "I think it is around 7 or 8 apples maybe, hard to say\nwhat do you think",  # last number only
        "",
    ]
    assert answer_format(completions) == [1.0, 1.0, 0.0, 0.0]


def test_user_rewards_register_by_name() -> None:
    @register_reward("test_length")
    def length(completions, **kw):
        return [float(len(c)) for c in completions]

    try:
        assert get_reward("test_length")(["ab", "abc"]) == [2.0, 3.0]
        assert "test_length" in available_rewards()
    finally:
        del rewards.REWARDS["test_length"]


def test_rewards_import_by_module_path() -> None:
    assert get_reward("sciinstruct.train.rewards:answer_format") is answer_format
    with pytest.raises(InputError, match="cannot import reward"):
        get_reward("sciinstruct.train.rewards:nope")


def test_unknown_reward_suggests_the_nearest() -> None:
    with pytest.raises(InputError, match="did you mean 'correctness'"):
        get_reward("corectness")


def test_sciformats_rewards_register_when_present() -> None:
    module = pytest.importorskip("sciinstruct.sciformats.rewards")
    names = available_rewards()
    table = getattr(module, "REWARDS", None)
    expected = (
        set(table)
        if isinstance(table, dict)
        else {n.removesuffix("_reward") for n in dir(module) if n.endswith("_reward")}
    )
    assert expected and expected <= set(names)
