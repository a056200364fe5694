"""The view index derives each question's row in SQL from the streamed files: concrete rows."""

from __future__ import annotations

import sqlite3

from sciinstruct.jsonl import write_jsonl
from sciinstruct.rundir import RunDir
from sciinstruct.view.index import build


def _attempt(aid: str, qid: str, stage: str, correct, error=None) -> dict:
    return {"id": aid, "question_id": qid, "stage": stage, "correct": correct, "error": error}


def test_each_question_row_is_derived_from_attempts_samples_drops_and_critiques(tmp_path):
    run = RunDir(tmp_path)
    write_jsonl(run.questions, [
        {"id": f"q{i}", "question": f"Q{i}?", "subject": s, "source": "src", "answer_type": "numeric"}
        for i, s in enumerate(["math", "math", "physics", "math", "biology"])
    ])  # fmt: skip
    write_jsonl(run.attempts, [
        _attempt("a0", "q0", "cot", False), _attempt("a1", "q0", "reflect", True),
        _attempt("a2", "q1", "cot", False), _attempt("a3", "q1", "hinted", False),
        _attempt("a4", "q2", "cot", None), _attempt("a5", "q2", "cot", True, error="HTTP 500"),
        _attempt("a6", "q3", "cot", True), _attempt("a7", "q3", "hinted", True),
    ])  # fmt: skip
    # a later critique of a6 replaces the first; 2/10 on a right answer is a disagreement
    with open(run.critiques, "w") as fh:
        fh.write('{"attempt_id": "a6", "score": 9}\n{"attempt_id": "a6", "score": 2}\n')
        fh.write('{"attempt_id": "a1", "score": 8}\n')
    write_jsonl(run.samples, [{"question_id": "q3", "provenance": {"attempt_ids": ["a6"]}}])
    write_jsonl(run.dropped, [
        {"kind": "sample", "question_id": "q0", "reason": "exact_dup_solution",
         "record": {"provenance": {"attempt_ids": ["a0", "a1"]}}},
        {"kind": "sample", "question_id": "q3", "reason": "exact_dup_solution",
         "record": {"provenance": {"attempt_ids": ["a7"]}}},
    ])  # fmt: skip
    path = tmp_path / "index.sqlite"
    build(run, path)
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT id, solved, curation, disagree, attempts FROM questions ORDER BY n"
    ).fetchall()
    assert rows == [
        ("q0", "reflect", "dropped", 0, 2),
        ("q1", "unsolved", "", 0, 2),
        ("q2", "ungradable", "", 0, 2),  # an error is no verdict, even marked correct
        ("q3", "cot", "kept", 1, 2),  # kept wins over a dropped duplicate
        ("q4", "", "", 0, 0),
    ]
    assert db.execute("SELECT score FROM critiques WHERE attempt_id = 'a6'").fetchall() == [(2.0,)]
    facets = db.execute("SELECT name, value, count FROM facets WHERE name = 'subject'").fetchall()
    assert facets == [("subject", "biology", 1), ("subject", "math", 3), ("subject", "physics", 1)]
    assert db.execute("SELECT attempt_id, question_id FROM drops ORDER BY off").fetchall() == [
        ("a1", "q0"),
        ("a7", "q3"),
    ]
