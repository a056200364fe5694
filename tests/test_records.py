"""Records validate what stages rely on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sciinstruct.records import Attempt, Provenance, Question, Sample, stable_id
from sciinstruct.redact import redact
from sciinstruct.rundir import RunDir


def test_question_id_is_a_stable_hash_of_source_and_text() -> None:
    a = Question(question="What is g?", answer="9.81 m/s^2", source="book")
    b = Question(question="What is g?", answer="9.8", source="book")
    c = Question(question="What is g?", answer="9.81 m/s^2", source="exam")
    assert a.id == b.id == stable_id("book", "What is g?")
    assert a.id != c.id
    assert len(a.id) == 16


def test_question_given_id_is_kept_and_subject_normalised() -> None:
    q = Question(id="q-1", question="x?", answer="1", subject=" Physics ")
    assert (q.id, q.subject) == ("q-1", "physics")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"answer": "1"}, "question"),
        ({"question": "  ", "answer": "1"}, "question"),
        ({"question": "q", "answer": "1", "answer_type": "essay"}, "answer_type"),
        ({"question": "q", "answer": "1", "colour": "red"}, "colour"),
        ({"question": "q", "answer": "A", "answer_type": "choice", "choices": ["only"]}, None),
    ],
)
def test_question_refuses_bad_fields(fields: dict, field: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        Question(**fields)
    if field is not None:
        assert info.value.errors()[0]["loc"][0] == field


def test_attempt_and_sample_round_trip_through_json() -> None:
    attempt = Attempt(
        question_id="q1",
        stage="reflect",
        parent_id="a0",
        messages=[{"role": "user", "content": "hi"}],
        response="\\boxed{4}",
        correct=True,
    )
    assert Attempt(**attempt.to_json_dict()) == attempt
    with pytest.raises(ValidationError):
        Attempt(question_id="q1", stage="guess", messages=[])
    sample = Sample(
        question_id="q1",
        messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
        provenance=Provenance(stage="cot", attempt_ids=[attempt.id]),
    )
    assert Sample(**sample.to_json_dict()).id == sample.id


def test_run_dir_stats_sections_merge_and_config_redacts(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.update_stats("ingest", {"questions": 3})
    stats = run.update_stats("annotate", {"solved": 2})
    assert stats == {"ingest": {"questions": 3}, "annotate": {"solved": 2}}
    run.update_config("annotate", {"api_key": "sk-secret", "api_key_env": "OPENAI_API_KEY", "n": 2})
    text = run.config.read_text()
    assert "sk-secret" not in text
    assert run.read_config()["annotate"] == {
        "api_key": "<redacted>",
        "api_key_env": "OPENAI_API_KEY",
        "n": 2,
    }
    assert redact({"nested": [{"token": "t"}]}) == {"nested": [{"token": "<redacted>"}]}
    # whole words, not substrings: generation settings stay readable
    kept = {"max_tokens": 256, "tokenizer": "x", "keep_keys": ["a"], "hf_token_env": "HF_TOKEN"}
    assert redact(kept) == kept
    assert redact({"base_url": "http://u:pw@127.0.0.1:8000/v1?api-key=s"}) == {
        "base_url": "http://127.0.0.1:8000/v1"
    }
    assert redact({"hf_token": "t", "openai_api_key": "k", "password": "p"}) == {
        "hf_token": "<redacted>",
        "openai_api_key": "<redacted>",
        "password": "<redacted>",
    }
