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


def test_one_registry_one_name_per_reward() -> None:
    from sciinstruct.train import science_rewards

    assert available_rewards() == [
        "checks",
        "constraints",
        "correctness",
        "extracted",
        "format",
        "tanimoto",
        "validity",
    ]
    # The two answer-format rewards once shared the name `format` and one silently won.
    assert get_reward("format") is answer_format
    assert get_reward("extracted") is science_rewards.extracted_answer
    with pytest.raises(ValueError, match="a reward named 'format' is already registered"):
        register_reward("format")(science_rewards.extracted_answer)
    assert get_reward("format") is answer_format


def test_correctness_gets_the_question_and_its_tolerance_from_trl_columns() -> None:
    prompts = [[{"role": "user", "content": "Convert 21 A to mA."}]] * 2
    kw = {"answer": ["21000"] * 2, "unit": ["mA"] * 2}
    completions = ["So, the final answer is 21A.", "21 A = 21000 mA"]
    assert correctness(completions, **kw) == [1.0, 1.0]  # without the question: converted
    assert correctness(completions, prompts=prompts, **kw) == [0.0, 1.0]  # a repeated given
    ph = {"answer": ["7.0"] * 2, "answer_type": ["numeric"] * 2}
    assert correctness(["pH 7.3", "pH 7.3"], metadata=['{"atol": 0.5}', "{}"], **ph) == [1.0, 0.0]
    assert correctness(["pH 7.3", "pH 7.3"], rtol=[0.05, None], **ph) == [1.0, 0.0]
