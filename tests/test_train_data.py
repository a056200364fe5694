"""Training data is checked before any training: one-line errors with file, line and field."""

from __future__ import annotations

import json
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
