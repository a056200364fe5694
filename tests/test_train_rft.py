"""Rejection-sampling fine-tuning on the embedded model: sample, grade, keep correct, SFT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciinstruct.jsonl import read_jsonl
from sciinstruct.train import RFTTrainConfig, train_rft
from sciinstruct.train.rft import select_correct
from train_helpers import generate_text, logit_shift, lora_b_norms, write_rows

pytestmark = [pytest.mark.slow, pytest.mark.train]

QUESTIONS = [
    {"id": "add", "question": "What is 2 + 2?", "answer": "4", "answer_type": "numeric"},
    {"id": "dog", "question": "How many legs does a dog have?", "answer": "4"},
]


def test_select_correct_keeps_distinct_correct_solutions() -> None:
    question = {
        "prompt": [{"role": "user", "content": "2+2?"}],
        "answer": "4",
        "answer_type": "numeric",
        "unit": None,
        "question_id": "q",
        "subject": "math",
    }
    texts = ["2 + 2 = \\boxed{4}", "2 +  2 = \\boxed{4}", "\\boxed{5}", "So it is \\boxed{4.0}"]
    rows, counts = select_correct([question], [texts], keep=4)
    assert counts == {
        "sampled": 4,
        "correct": 3,
        "duplicate": 1,
        "kept": 2,
        "questions_solved": 1,
        "ungradable_reference": 0,
        "truncated": 0,
        "judged": 0,
    }
    assert [r["messages"][-1]["content"] for r in rows] == [texts[0], texts[3]]
    assert rows[0]["stage"] == "rft" and rows[0]["messages"][0] == question["prompt"][0]
    rows, counts = select_correct([question], [texts], keep=1)
    assert counts["kept"] == 1 and len(rows) == 1


def test_select_correct_does_not_keep_a_repeated_given() -> None:
    question = {
        "prompt": [{"role": "user", "content": "Convert 21 A to mA."}],
        "answer": "21000",
        "answer_type": "numeric",
        "unit": "mA",
        "question_id": "q",
        "subject": "physics",
    }
    texts = ["So, the final answer is 21A.", "21 A = \\boxed{21000 mA}"]
    rows, counts = select_correct([question], [texts], keep=4)
    assert counts["correct"] == 1 and [r["messages"][-1]["content"] for r in rows] == [texts[1]]


def _question(answer: str = "4") -> dict:
    return {
        "prompt": [{"role": "user", "content": "2+2?"}],
        "answer": answer,
        "answer_type": "numeric",
        "unit": None,
        "question_id": "q",
        "subject": "math",
    }


def test_select_correct_does_not_keep_a_cut_off_solution_for_its_last_number() -> None:
    texts = ["First 1 + 1 = 2, then 2 + 2 = 4, and next we", "2 + 2 = \\boxed{4}"]
    rows, counts = select_correct([_question()], [texts], keep=4)
    assert counts["kept"] == 2  # without finish reasons, the last number 4 is credited
    rows, counts = select_correct([_question()], [texts], keep=4, finish_reasons=[["length"] * 2])
    assert counts["truncated"] == 2 and counts["kept"] == 1  # the boxed answer still counts
    assert [r["messages"][-1]["content"] for r in rows] == [texts[1]]


def test_select_correct_asks_the_judge_what_the_rules_cannot_decide() -> None:
    from sciinstruct.grading.verifier import Verifier
    from scripted import ScriptedBackend

    asked = ScriptedBackend(
        lambda prompt, seed: "Verdict: CORRECT" if "four" in prompt else "Verdict: INCORRECT"
    )
    texts = ["Two and two make four.", "\\boxed{5}", "It is a lot, I think."]
    rows, counts = select_correct([_question()], [texts], keep=4, judge=Verifier(asked))
    assert [r["messages"][-1]["content"] for r in rows] == [texts[0]]
    assert counts["judged"] == 2 and counts["correct"] == 1
    assert len(asked.requests) == 2  # \\boxed{5} is certainly wrong: the judge is not asked


def test_rft_round_samples_grades_and_fine_tunes(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "questions.jsonl", QUESTIONS)
    cfg = RFTTrainConfig(
        data=str(data),
        out=str(tmp_path / "out"),
        rounds=1,
        samples=4,
        keep_per_question=4,
        max_new_tokens=24,
        max_length=128,
        batch_size=2,
        max_steps=2,
        warmup_ratio=0,
        logging_steps=1,
        eval_fraction=0,
        seed=7,  # per-row seeds 1007-1010: 3 of the 8 samples grade correct (42: none)
    )
    result = train_rft(cfg)
    round_dir = tmp_path / "out" / "round-1"
    counts = json.loads((round_dir / "sampling.json").read_text())
    kept = list(read_jsonl(round_dir / "rft.jsonl"))
    assert counts["sampled"] == 8 and counts["kept"] == len(kept) >= 1
    assert {r["question_id"] for r in kept} <= {"add", "dog"}
    assert all(r["messages"][-1]["role"] == "assistant" for r in kept)
    assert any("loss" in e for e in result.log_history)
    assert all(n > 0 for n in lora_b_norms(round_dir / "model").values())
    assert result.final_model == round_dir / "merged"
    generate_text(result.final_model)  # loads and generates new tokens
    assert logit_shift(result.final_model) > 1e-3  # and computes something else than the base
    summary = json.loads((tmp_path / "out" / "rft.json").read_text())
    assert summary == {"rounds": 1, "final_model": str(round_dir / "merged")}
    # --resume skips the finished round and reports the same final model
    again = train_rft(RFTTrainConfig(**{**cfg.to_dict(), "resume": True}))
    assert again.final_model == round_dir / "merged"
