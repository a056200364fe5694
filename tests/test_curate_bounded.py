"""Curation's bounded-memory paths: the filter's training sample, lineage from a stream."""

from __future__ import annotations

from sciinstruct.curate.classifier import examples_from_attempts
from sciinstruct.curate.samples import build_samples
from sciinstruct.records import Attempt, Question

QUESTIONS = [
    Question(id=f"q{i}", question=f"What is {i} + 1?", answer=str(i + 1)) for i in range(100)
]


def _attempt(qid: str, n: int, correct: bool, parent: str | None = None, stage: str = "cot"):
    return Attempt(
        id=f"{qid}-{n}", question_id=qid, stage=stage, parent_id=parent, messages=[],
        response=f"{qid} answer {n}", correct=correct,
    )  # fmt: skip


def test_the_training_sample_takes_whole_questions_and_about_its_share():
    attempts = [_attempt(q.id, n, n == 0) for q in QUESTIONS for n in range(2)]
    every = examples_from_attempts(QUESTIONS, attempts)
    assert len(every) == 200
    sample = examples_from_attempts(QUESTIONS, iter(attempts), fraction=0.3)
    groups = sorted({e.group for e in sample})
    assert len(sample) == 2 * len(groups)  # both attempts of a chosen question, or neither
    assert len(groups) == 27  # about 30% of 100, by a stable hash
    assert sample == examples_from_attempts(QUESTIONS, attempts, fraction=0.3)  # stable
    assert [e.label for e in sample[:2]] == [1, 0]


def test_lineage_is_whole_when_a_revision_comes_before_its_parent_in_the_stream():
    cot = _attempt("q1", 0, False)
    reflect = _attempt("q1", 1, False, parent=cot.id, stage="reflect")
    hinted = _attempt("q1", 2, True, parent=reflect.id, stage="hinted")
    [sample] = build_samples(QUESTIONS, iter([hinted, reflect, cot]))
    assert sample.provenance.attempt_ids == ["q1-0", "q1-1", "q1-2"]
    assert sample.provenance.hinted and sample.messages[1]["content"] == "q1 answer 2"
