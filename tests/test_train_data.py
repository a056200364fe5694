"""Training data is checked before any training: one-line errors with file, line and field."""

from __future__ import annotations

import json
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from sciinstruct.cli.main import main
from sciinstruct.errors import InputError
from sciinstruct.train import data as train_data
from train_helpers import dpo_rows, sft_rows, write_rows

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    from sciinstruct.train.model import load_tokenizer, resolve_model

    return load_tokenizer(resolve_model(None))


def test_dpo_row_without_rejected_is_located(tmp_path: Path, tokenizer) -> None:
    rows = dpo_rows(3)
    del rows[1]["rejected"]
    path = write_rows(tmp_path / "dpo.jsonl", rows)
    with pytest.raises(InputError) as info:
        train_data.load(path, train_data.dpo_row, tokenizer, 256)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), 2, "rejected")
    assert str(info.value).startswith(f"{path}:2 field 'rejected': missing")


def test_empty_file_is_an_error(tmp_path: Path, tokenizer) -> None:
    path = tmp_path / "sft.jsonl"
    path.write_text("\n")
    with pytest.raises(InputError, match="no training rows"):
        train_data.load(path, train_data.sft_row, tokenizer, 256)


def test_too_long_row_gives_its_token_count(tmp_path: Path, tokenizer) -> None:
    rows = sft_rows(3)
    rows[2]["messages"][-1]["content"] = "word " * 300
    path = write_rows(tmp_path / "sft.jsonl", rows)
    with pytest.raises(InputError) as info:
        train_data.load(path, train_data.sft_row, tokenizer, 128)
    assert info.value.line == 3 and info.value.field == "messages"
    n_tokens = int(str(info.value).split("sequence is ")[1].split(" tokens")[0])
    assert n_tokens > 300  # "word " is at least one token each, plus the template
    assert "longer than max_length=128" in str(info.value)


def test_too_long_rows_can_be_dropped_and_are_counted(tmp_path: Path, tokenizer) -> None:
    rows = sft_rows(3)
    rows[0]["messages"][-1]["content"] = "word " * 300
    path = write_rows(tmp_path / "sft.jsonl", rows)
    loaded = train_data.load(path, train_data.sft_row, tokenizer, 128, too_long="drop")
    assert len(loaded.rows) == 2 and loaded.dropped_too_long == 1


def test_sft_rows_become_prompt_completion_and_zero_weight_is_dropped(
    tmp_path: Path, tokenizer
) -> None:
    rows = sft_rows(3)
    rows[1]["weight"] = 0
    path = write_rows(tmp_path / "sft.jsonl", rows)
    loaded = train_data.load(path, train_data.sft_row, tokenizer, 256)
    assert len(loaded.rows) == 2
    first = loaded.rows[0]
    assert [m["role"] for m in first["prompt"]] == ["system", "user"]
    assert first["completion"] == [rows[0]["messages"][-1]]


def test_messages_must_end_with_the_assistant(tmp_path: Path, tokenizer) -> None:
    rows = sft_rows(1)
    rows[0]["messages"] = rows[0]["messages"][:2]
    path = write_rows(tmp_path / "sft.jsonl", rows)
    with pytest.raises(InputError, match="last message must be from the assistant, got user"):
        train_data.load(path, train_data.sft_row, tokenizer, 256)


def test_bad_json_line_is_located(tmp_path: Path, tokenizer) -> None:
    path = tmp_path / "sft.jsonl"
    path.write_text(json.dumps(sft_rows(1)[0]) + "\n{not json\n")
    with pytest.raises(InputError) as info:
        train_data.load(path, train_data.sft_row, tokenizer, 256)
    assert info.value.line == 2 and "invalid JSON" in str(info.value)


def test_question_rows_accept_question_schema(tmp_path: Path, tokenizer) -> None:
    path = write_rows(tmp_path / "q.jsonl", [{"id": "x1", "question": "2+2?", "answer": "4"}])
    loaded = train_data.load(path, train_data.question_row, tokenizer, 256, reserve=64)
    assert loaded.rows[0]["prompt"] == [{"role": "user", "content": "2+2?"}]
    assert (loaded.rows[0]["question_id"], loaded.rows[0]["answer_type"]) == ("x1", "auto")


def test_eval_split_holds_out_rows() -> None:
    pytest.importorskip("datasets")
    train, held = train_data.to_datasets([{"x": i} for i in range(20)], 0.1, 0, None)
    assert (len(train), len(held)) == (18, 2)
    train, held = train_data.to_datasets([{"x": i} for i in range(20)], 0.0, 0, None)
    assert (len(train), held) == (20, None)


def test_cli_refuses_bad_dpo_file_before_training(tmp_path: Path, capsys) -> None:
    rows = dpo_rows(2)
    del rows[0]["rejected"]
    path = write_rows(tmp_path / "dpo.jsonl", rows)
    out = tmp_path / "out"
    code = main(["train", "dpo", "--data", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "dpo.jsonl:1 field 'rejected'" in err.replace("\n", "")
    assert not any(out.glob("checkpoint-*"))  # nothing was trained


def kept_questions(loaded: train_data.LoadedData) -> list[str]:
    """The user turn of every loaded row, copies included, in load order."""
    return [row["prompt"][-1]["content"] for row in loaded.rows]


def test_weight_below_one_keeps_that_share_of_rows_the_same_each_load(
    tmp_path: Path, tokenizer
) -> None:
    rows = sft_rows(1000)
    for row in rows:
        row["weight"] = 0.5  # `curate --hinted downweight`
    path = write_rows(tmp_path / "sft.jsonl", rows)
    first = train_data.load(path, train_data.sft_row, tokenizer, 256)
    kept = kept_questions(first)
    assert 430 <= len(kept) <= 570  # Binomial(1000, 0.5): 4.4 standard deviations either side
    assert len(set(kept)) == len(kept)  # below weight 1 no row is repeated
    assert (first.dropped_by_weight, first.repeated_by_weight) == (1000 - len(kept), 0)
    assert first.notes == [
        f"sample weights: dropped {1000 - len(kept)} rows, added 0 repeated copies"
    ]
    assert kept_questions(train_data.load(path, train_data.sft_row, tokenizer, 256)) == kept
    # The decision follows the row's content, not its place in the file...
    write_rows(path, rows[::-1])
    again = kept_questions(train_data.load(path, train_data.sft_row, tokenizer, 256))
    assert again == kept[::-1]
    # ...and the seed: another seed keeps a different half.
    reseeded = partial(train_data.sft_row, seed=1)
    other = set(kept_questions(train_data.load(path, reseeded, tokenizer, 256)))
    assert 430 <= len(other) <= 570 and other != set(kept)


def test_weight_above_one_repeats_rows(tmp_path: Path, tokenizer) -> None:
    rows = sft_rows(200)
    for row in rows:
        row["weight"] = 2.5
    rows[0]["weight"] = 1
    rows[1]["weight"] = 3
    path = write_rows(tmp_path / "sft.jsonl", rows)
    loaded = train_data.load(path, train_data.sft_row, tokenizer, 256)
    counts = Counter(kept_questions(loaded))
    assert counts["What is 0 + 3?"] == 1 and counts["What is 1 + 4?"] == 3
    assert set(counts.values()) == {1, 2, 3} and len(counts) == 200  # 2.5 -> 2 or 3 copies
    triples = sum(1 for n in list(counts.values())[2:] if n == 3)
    assert 60 <= triples <= 138  # half of 198 rows, Binomial(198, 0.5) within 5.6 sd
    assert len(loaded.rows) == 1 + 3 + 2 * 198 + triples
    assert (loaded.dropped_by_weight, loaded.repeated_by_weight) == (0, len(loaded.rows) - 200)


@pytest.mark.parametrize("weight", [-1, float("inf"), True, "0.5"])
def test_bad_weight_is_located(tmp_path: Path, tokenizer, weight: object) -> None:
    rows = sft_rows(2)
    rows[1]["weight"] = weight
    path = tmp_path / "sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # inf is written as Infinity
    with pytest.raises(InputError) as info:
        train_data.load(path, train_data.sft_row, tokenizer, 256)
    assert (info.value.line, info.value.field) == (2, "weight")


def test_eval_split_keeps_all_copies_of_a_row_on_one_side() -> None:
    pytest.importorskip("datasets")
    rows = [{"x": i} for i in range(10)] * 3  # three copies of each, as weight 3 makes them
    train, held = train_data.to_datasets(rows, 0.2, 0, None)
    held_x = held["x"]
    assert len(held_x) == 2 and len(set(held_x)) == 2  # two distinct rows, one copy each
    assert len(train) == 24 and not set(held_x) & set(train["x"])
