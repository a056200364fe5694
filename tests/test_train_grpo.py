"""GRPO on the embedded model: 2 generations of 16 tokens, the grader's and our own rewards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.train import GRPOTrainConfig, register_reward, rewards, train_grpo
from train_helpers import generate_text, grpo_rows, logit_shift, lora_b_norms, losses, write_rows

pytestmark = [pytest.mark.slow, pytest.mark.train]


@pytest.fixture
def length_reward():
    # Two sampled completions almost never have the same length, so the group always has a
    # non-zero advantage and the step always moves the weights (correctness on 16 tokens of a
    # 135M model is mostly 0 for both, which would give a zero gradient).
    @register_reward("test_chars")
    def chars(completions, **kw):
        return [len(rewards.completion_text(c)) / 100 for c in completions]

    yield "test_chars"
    del rewards.REWARDS["test_chars"]


def test_grpo_trains_with_verifiable_rewards(
    tmp_path: Path, length_reward: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Record what the correctness reward hands the grader during the real step: the sampled
    # completions cannot be steered to a restated given, but the inputs that make the grader
    # check for one (the question's text) and honour the question's tolerance can be seen.
    from sciinstruct.grading import reward as grading_reward

    graded: list[dict] = []
    real_grade_many = grading_reward.grade_many

    def recording_grade_many(preds, golds, **kw):
        graded.append({"golds": list(golds), **kw})
        return real_grade_many(preds, golds, **kw)

    monkeypatch.setattr(grading_reward, "grade_many", recording_grade_many)
    rows = grpo_rows(4)
    for i, row in enumerate(rows):
        row["metadata"] = {"rtol": 0.01 * (i + 1)}
    data = write_rows(tmp_path / "grpo.jsonl", rows)
    cfg = GRPOTrainConfig(
        data=str(data),
        out=str(tmp_path / "out"),
        max_steps=1,
        batch_size=2,
        num_generations=2,
        max_completion_length=16,
        max_length=96,
        warmup_ratio=0,
        logging_steps=1,
        eval_fraction=0,
        learning_rate=1e-4,
        rewards=["correctness", "format", length_reward],
        reward_weights=[1.0, 0.5, 1.0],
    )
    result = train_grpo(cfg)
    logged = [e for e in result.log_history if "loss" in e]
    assert len(logged) == 1 and len(losses(result.log_history)) == 1
    step = logged[0]
    assert 0.0 <= step["rewards/correctness/mean"] <= 1.0  # the grader scored both samples
    assert 0.0 <= step["rewards/answer_format/mean"] <= 1.0
    assert step["rewards/chars/mean"] > 0  # 16 sampled tokens are never empty
    # TRL's prompts and the rows' own tolerances reached the grader, row by row.
    by_question = {r["prompt"][0]["content"]: r for r in rows}
    assert graded and all(len(call["questions"]) == len(call["golds"]) == 2 for call in graded)
    for call in graded:
        for question, gold, meta in zip(
            call["questions"], call["golds"], call["metadata"], strict=True
        ):
            assert gold == by_question[question]["answer"]
            assert json.loads(meta) == by_question[question]["metadata"]
    assert all(e["completions/max_length"] <= 16 for e in logged)
    assert any(n > 0 for n in lora_b_norms(result.model_dir).values())
    assert '"correctness": 1.0' in (result.model_dir / "README.md").read_text()
    generate_text(result.model_dir)  # loads and generates new tokens; the adapter loads on its base
    assert logit_shift(result.model_dir) > 1e-3  # and computes something else than the base


def test_unknown_reward_fails_before_loading_the_model(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "grpo.jsonl", grpo_rows(2))
    cfg = GRPOTrainConfig(
        data=str(data),
        out=str(tmp_path / "out"),
        batch_size=2,
        num_generations=2,
        rewards=["corectness"],
    )
    with pytest.raises(InputError, match="did you mean 'correctness'"):
        train_grpo(cfg)


def test_grpo_prompt_must_leave_room_for_the_completion(tmp_path: Path) -> None:
    rows = grpo_rows(2)
    rows[1]["prompt"][0]["content"] = "Explain. " * 40
    data = write_rows(tmp_path / "grpo.jsonl", rows)
    cfg = GRPOTrainConfig(
        data=str(data),
        out=str(tmp_path / "out"),
        batch_size=2,
        num_generations=2,
        max_completion_length=64,
        max_length=128,
    )
    with pytest.raises(InputError, match=r"grpo.jsonl:2 field 'prompt'.*- 64 for generation"):
        train_grpo(cfg)
