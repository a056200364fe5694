"""Curation's bounded-memory paths: the filter's training sample, lineage from a stream, and
what waits on disk (SQLite, a spill file) instead of in memory."""

from __future__ import annotations

import sqlite3

from sciinstruct.curate import quality_filter
from sciinstruct.curate.classifier import examples_from_attempts
from sciinstruct.curate.droplog import DropLog
from sciinstruct.curate.samples import build_samples, iter_samples
from sciinstruct.jsonl import read_jsonl
from sciinstruct.records import Attempt, Question

TABLES = ("question", "parent", "pending", "seen")

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


def test_iter_samples_keeps_questions_parents_and_ids_in_sqlite(tmp_path):
    cot = _attempt("q1", 0, False)
    reflect = _attempt("q1", 1, False, parent=cot.id, stage="reflect")
    hinted = _attempt("q1", 2, True, parent=reflect.id, stage="hinted")
    twin = _attempt("q1", 2, True, parent=reflect.id, stage="hinted").model_copy(
        update={"id": "q1-3"}
    )  # the same solution again: a suffixed id
    other = _attempt("q2", 0, True)
    attempts = [hinted, reflect, cot, twin, other]
    db = sqlite3.connect(tmp_path / "scratch.sqlite")
    streamed = list(iter_samples(QUESTIONS, iter(attempts), {}, db))
    assert streamed == build_samples(QUESTIONS, iter(attempts))
    assert [s.provenance.attempt_ids for s in streamed] == [
        ["q1-0", "q1-1", "q1-2"],
        ["q1-0", "q1-1", "q1-3"],
        ["q2-0"],
    ]
    assert streamed[1].id == streamed[0].id + "-1"
    # On disk: 100 questions, a parent row per attempt, 3 samples waiting, 2 distinct ids.
    count = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    assert count == {"question": 100, "parent": 5, "pending": 3, "seen": 2}


def test_filter_candidates_live_in_sqlite_and_are_read_a_chunk_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(quality_filter, "SCORE_CHUNK", 4)
    attempts = [_attempt(q.id, 0, True) for q in QUESTIONS[:10]]
    db = sqlite3.connect(tmp_path / "scratch.sqlite")
    candidates = quality_filter.Candidates(db, build_samples(QUESTIONS, attempts), 5, 0)
    assert len(candidates) == 10
    folds = dict(db.execute("SELECT fold, COUNT(*) FROM candidate GROUP BY fold").fetchall())
    assert sum(folds.values()) == 10 and set(folds) <= set(range(5))
    assert [len(s) for _, s in candidates.chunks()] == [4, 4, 2]
    assert [positions for positions, _ in candidates.chunks()][0] == [0, 1, 2, 3]
    fold, size = next(iter(folds.items()))
    members = [s.question_id for _, chunk in candidates.chunks(fold) for s in chunk]
    assert len(members) == size
    assert all(quality_filter.fold_of(q, 5) == fold for q in members)


def test_droplog_spills_its_rows_to_a_file(tmp_path):
    log = DropLog("filter")
    [sample] = build_samples(QUESTIONS, [_attempt("q1", 0, True)])
    log.drop(sample, "classifier_below_threshold", score=-0.5)
    log.drop_question(QUESTIONS[2], "contaminated")
    assert log.rows == 2  # a count: the rows themselves are in the spill file
    log.spill.seek(0)
    assert len(log.spill.read().splitlines()) == 2
    assert log.save(tmp_path / "dropped.jsonl") == 2
    rows = list(read_jsonl(tmp_path / "dropped.jsonl"))
    assert [r["reason"] for r in rows] == ["classifier_below_threshold", "contaminated"]
    assert rows[0]["detail"] == {"score": -0.5}
