"""Curation's bounded-memory paths: the filter's training sample, lineage from a stream, and
what waits on disk (SQLite, a spill file) instead of in memory."""

from __future__ import annotations

import gc
import sqlite3
from contextlib import contextmanager

from sciinstruct import scratch
from sciinstruct.curate import CurateConfig, quality_filter
from sciinstruct.curate.classifier import examples_from_attempts
from sciinstruct.curate.droplog import DropLog
from sciinstruct.curate.samples import build_samples, iter_samples
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.records import Attempt, Question, Sample
from sciinstruct.rundir import RunDir
from sciinstruct.scratch import DiskDict, RecordTable

TABLES = ("question", "parent", "pending", "seen")
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]

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


# --- the scratch tables every stage keeps its run-sized state in ----------------------------


def test_disk_dict_is_a_dict_in_sqlite(tmp_path):
    db = sqlite3.connect(tmp_path / "scratch.sqlite")
    table = DiskDict(db, "ids")
    assert table.add("a") and not table.add("a")  # set-like: new once
    table["b"] = 2.5
    table["b"] = 3.0  # the last value wins, as in a dict
    del table["missing"]  # deleting what is not there is a no-op (critiques' "no score")
    assert (len(table), table.get("a"), table["b"], "c" in table) == (2, None, 3.0, False)
    assert db.execute("SELECT key, value FROM ids ORDER BY key").fetchall() == [
        ("a", None),
        ("b", 3.0),
    ]


def test_record_table_passes_in_order_and_drops_and_rewrites_in_place(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch, "CHUNK_ROWS", 3)  # several chunks, dropped rows between them
    db = sqlite3.connect(tmp_path / "scratch.sqlite")
    table = RecordTable(db, "question", Question, {"id": lambda q: q.id})
    table.extend(iter(QUESTIONS[:10]))
    for seq, question in table:
        if seq % 2:
            table.drop(seq)
        elif seq == 4:
            table.replace(seq, question.model_copy(update={"id": "renamed"}))
    assert [q.id for q in table.records()] == ["q1", "renamed", "q5", "q7", "q9"]
    assert [s for s, _ in table.where("id LIKE 'q%'")] == [2, 6, 8, 10]
    assert [s for s, _ in table.selected("SELECT seq FROM question WHERE seq > 7")] == [8, 10]
    assert (len(table), db.execute("SELECT COUNT(*) FROM question").fetchone()) == (5, (10,))


# --- stages that must not hold the run ------------------------------------------------------


def _live(kind: type) -> int:
    gc.collect()
    return sum(type(o) is kind for o in gc.get_objects())


def _kept_db(monkeypatch, module, path):
    """`module`'s scratch files outlive the stage: the first at `path`, any other beside it."""
    opened = []

    @contextmanager
    def kept(directory=None):
        db = sqlite3.connect(path.with_suffix(f".{len(opened)}") if opened else path)
        opened.append(db)
        try:
            yield db
        finally:
            db.commit()
            db.close()

    monkeypatch.setattr(module, "scratch_db", kept)


def test_curate_keeps_questions_and_samples_on_disk_not_in_lists(tmp_path, monkeypatch, make_run):
    """400 questions, 2 distinct solutions each and a repeat: while samples.jsonl is written,
    about a chunk of samples is alive (not 1,200), and the scratch file holds every record."""
    from sciinstruct.curate import pipeline

    monkeypatch.setattr(scratch, "CHUNK_ROWS", 50)
    questions = [
        Question(id=f"q{i}", question=f"What is {i} * {i + 7} in {WORDS[i % 9]} units?", answer="1")
        for i in range(400)
    ]
    attempts = [
        _attempt(q.id, n, True).model_copy(update={"response": f"{q.id}: {text}"})
        for q in questions
        for n, text in enumerate(["by parts", "by parts", "by a table of values"])
    ]
    run = make_run(questions, attempts)
    alive: list[int] = []
    real_write = pipeline.write_jsonl

    def write_and_count(path, records):
        def counting():
            for n, record in enumerate(records):
                if n == 600:
                    alive.append(_live(Sample))
                yield record

        return real_write(path, counting())

    monkeypatch.setattr(pipeline, "write_jsonl", write_and_count)
    _kept_db(monkeypatch, pipeline, tmp_path / "curate.sqlite")
    stats = pipeline.curate(run, CurateConfig(near_dup=False))
    assert (stats["kept_samples"], stats["dropped_exact_dup_solution"]) == (800, 400)
    assert alive[0] <= 50  # at most a chunk (parsed one at a time), not the run's 1,200
    db = sqlite3.connect(tmp_path / "curate.sqlite")
    count = "SELECT COUNT(*), SUM(kept) FROM {}"
    assert db.execute(count.format("question")).fetchone() == (400, 400)
    assert db.execute(count.format("sample")).fetchone() == (1200, 800)


def test_ingest_keeps_ids_and_first_lines_on_disk(tmp_path, monkeypatch):
    from sciinstruct import ingest as ingest_module

    source = tmp_path / "questions.jsonl"
    rows = [
        {"id": f"i{n}", "question": f"What is {n} + 1?", "answer": str(n + 1)} for n in range(300)
    ]
    rows += [{"id": "i3", "question": "What is 3 + 1?", "answer": "4"}]  # a repeated id
    rows += [{"question": f"no answer {n}"} for n in range(8)]
    write_jsonl(source, rows)
    run = RunDir(tmp_path / "run")
    _kept_db(monkeypatch, ingest_module, tmp_path / "ingest.sqlite")
    result = ingest_module.ingest(source, run)
    assert (result.accepted, result.rejected_count, len(result.rejected)) == (300, 9, 5)
    assert [r["line"] for r in result.rejected] == [301, 302, 303, 304, 305]  # the first five
    assert len(list(read_jsonl(run.rejected))) == 9  # every one is in the file
    db = sqlite3.connect(tmp_path / "ingest.sqlite")
    tables = ("known", "first_line", "seen_rejection")
    assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables] == [300, 300, 0]
    again = ingest_module.ingest(source, run)  # the run's questions now come from the file
    assert (again.accepted, again.already_present, again.rejected_count) == (0, 300, 9)
    assert len(list(read_jsonl(run.rejected))) == 9  # rejections already written are not repeated
