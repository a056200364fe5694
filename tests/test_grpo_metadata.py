"""A question's `choices` and `metadata` survive export -> train data -> the GRPO rewards.

The grader needs the option texts to accept "the answer is Zn²⁺" for option C, and a question's
own tolerance lives in its metadata; both used to be dropped on the way to the trainer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sciinstruct.errors import InputError
from sciinstruct.export import export_run
from sciinstruct.jsonl import write_jsonl
from sciinstruct.records import Question
from sciinstruct.rundir import RunDir
from sciinstruct.train import data as train_data
from sciinstruct.train.rewards import get_reward
from train_helpers import write_rows

pytestmark = pytest.mark.train

ION = Question(
    id="ion",
    question="Which ion gives a white precipitate with ammonium sulfide?",
    answer="C",
    answer_type="choice",
    choices=["Cu²⁺", "Fe³⁺", "Zn²⁺", "Ni²⁺"],
    subject="chemistry",
)
PH = Question(
    id="ph",
    question="What is the pH of pure water at 25 °C?",
    answer="7.0",
    answer_type="numeric",
    subject="chemistry",
    metadata={"atol": 0.5, "note": "half a pH unit either way"},
)


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    from sciinstruct.train.model import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model(None))


def columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Columns as TRL hands them to a reward: one keyword list per dataset column."""
    dataset, _ = train_data.to_datasets(rows, 0.0, 0, None)
    batch = dataset[:]
    return {k: v for k, v in batch.items() if k != "prompt"}


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_option_text_and_own_tolerance_earn_the_reward(
    tmp_path: Path, tokenizer, suffix: str
) -> None:
    run = RunDir(tmp_path / "run").ensure()
    write_jsonl(run.questions, [ION, PH])
    export_run(run, ["grpo"])
    loaded = train_data.load(run.export_dir / f"grpo.{suffix}", train_data.grpo_row, tokenizer, 512)
    assert loaded.rows[0]["choices"] == ["Cu²⁺", "Fe³⁺", "Zn²⁺", "Ni²⁺"]
    assert json.loads(loaded.rows[1]["metadata"]) == PH.metadata
    assert loaded.rows[1]["choices"] is None
    correctness = get_reward("correctness")
    completions = ["The answer is Zn²⁺", "The answer is \\boxed{7.3}"]
    assert correctness(completions, **columns(loaded.rows)) == [1.0, 1.0]
    # Without the two columns the same completions score 0: they are what made them right.
    bare = {k: v for k, v in columns(loaded.rows).items() if k not in ("choices", "metadata")}
    assert correctness(completions, **bare) == [0.0, 0.0]
    # A wrong option's text and a pH outside the question's 0.5 still score 0.
    assert correctness(["The answer is Fe³⁺", "\\boxed{7.6}"], **columns(loaded.rows)) == [
        0.0,
        0.0,
    ]


def test_question_rows_keep_choices_and_show_the_options(tmp_path: Path, tokenizer) -> None:
    path = write_rows(tmp_path / "q.jsonl", [ION.model_dump(), PH.model_dump()])
    loaded = train_data.load(path, train_data.question_row, tokenizer, 512, reserve=64)
    ion, ph = loaded.rows
    assert ion["prompt"][0]["content"].endswith("A. Cu²⁺\nB. Fe³⁺\nC. Zn²⁺\nD. Ni²⁺")
    assert ion["choices"] == ION.choices and ion["question_id"] == "ion"
    assert json.loads(ph["metadata"]) == {"atol": 0.5, "note": "half a pH unit either way"}
    assert ph["prompt"][0]["content"] == PH.question  # no options, nothing appended


def test_bad_choices_and_metadata_are_located(tmp_path: Path, tokenizer) -> None:
    row = {"prompt": [{"role": "user", "content": "2+2?"}], "answer": "4"}
    path = write_rows(tmp_path / "grpo.jsonl", [row, {**row, "metadata": "{not json"}])
    with pytest.raises(InputError) as info:
        train_data.load(path, train_data.grpo_row, tokenizer, 256)
    assert (info.value.line, info.value.field) == (2, "metadata")
    path = write_rows(tmp_path / "grpo.jsonl", [{**row, "choices": "A or B"}])
    with pytest.raises(InputError) as info:
        train_data.load(path, train_data.grpo_row, tokenizer, 256)
    assert (info.value.line, info.value.field) == (1, "choices")
    path = write_rows(tmp_path / "grpo.jsonl", [{**row, "metadata": {"rtol": 0.05}}, row])
    rows = train_data.load(path, train_data.grpo_row, tokenizer, 256).rows
    assert [r["metadata"] for r in rows] == ['{"rtol": 0.05}', "{}"]  # one string column
