"""Training samples from graded attempts: what the model said, where it came from, how it scored.

A sample is the plain question as the user turn and a correct solution as the assistant turn. The
exact annotation prompt (which for `reflect` holds the wrong attempt and for `hinted` the reference
answer) stays in attempts.jsonl; the sample points back to it through `provenance.attempt_ids`.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from sciinstruct.errors import InputError
from sciinstruct.jsonl import BadLine, read_jsonl
from sciinstruct.log import logger
from sciinstruct.records import Attempt, Provenance, Question, Sample
from sciinstruct.scratch import DiskDict, RecordTable

R = TypeVar("R", bound=BaseModel)

# Among equally scored solutions, one found without help is worth more: cot > reflect > hinted.
STAGE_RANK = {"cot": 3, "sample": 3, "reflect": 2, "hinted": 1, "general": 0}


def load_records(path: str | Path, model: type[R], required: bool = True) -> list[R]:
    """Read and validate a JSONL file of records; a bad record is an error naming its line."""
    return list(iter_records(path, model, required))


def iter_records(
    path: str | Path, model: type[R], required: bool = True, blank: tuple[str, ...] = ()
) -> Iterator[R]:
    """`load_records` one record at a time. List fields named in `blank` are emptied before
    validation (fields the caller never reads)."""
    path = Path(path)
    if required and not path.exists():
        raise InputError(f"missing {path.name}: run the stage that writes it first", file=str(path))
    bad: list[BadLine] = []
    for index, row in enumerate(read_jsonl(path, bad=bad), start=1):
        for name in blank:
            if isinstance(row.get(name), list):
                row[name] = []
        try:
            record = model.model_validate(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            raise InputError(
                f"record {index} is not a valid {model.__name__}: {first['msg']}",
                file=str(path),
                field=field,
            ) from exc
        yield record
    for line in bad:
        logger.warning("skipped %s", line)


def load_attempts(path: str | Path, required: bool = True) -> list[Attempt]:
    """A run's attempts without their prompts (see `iter_attempts`)."""
    return list(iter_attempts(path, required))


def iter_attempts(path: str | Path, required: bool = True) -> Iterator[Attempt]:
    """A run's attempts, read as they are asked for, without their prompts: `messages` stays
    in attempts.jsonl.

    No curation, export or report step reads an attempt's prompt (a sample's user turn is the
    question itself), and the prompt is most of an attempt's size."""
    return iter_records(path, Attempt, required, blank=("messages",))


def load_critique_scores(path: str | Path) -> dict[str, float]:
    """attempt id -> the judge score (1-10) of its latest critique.

    critiques.jsonl is append-only: a re-run with another judge, prompt or settings adds rows
    and leaves the old ones, so the last row of an attempt is the current verdict. When that
    verdict has no score (unparseable), the attempt has none: an older judge's score is not
    brought back in its place.
    """
    latest = dict(_critique_rows(path))
    return {attempt_id: score for attempt_id, score in latest.items() if score is not None}


def critique_scores(path: str | Path, db: sqlite3.Connection) -> DiskDict:
    """`load_critique_scores` in a table of `db` (a scratch SQLite file): a score per judged
    attempt, which would grow with the run as a dict."""
    scores = DiskDict(db, "critique_score")
    for attempt_id, score in _critique_rows(path):
        if score is None:
            del scores[attempt_id]
        else:
            scores[attempt_id] = score
    return scores


def _critique_rows(path: str | Path) -> Iterator[tuple[str, float | None]]:
    """(attempt id, score) of every critique in file order; None where it has no score."""
    for row in read_jsonl(path):
        if row.get("attempt_id"):
            score = row.get("score")
            numeric = isinstance(score, int | float) and not isinstance(score, bool)
            yield row["attempt_id"], float(score) if numeric else None


def question_prompt(question: Question) -> str:
    """The user turn of a sample: the question, with its lettered choices when it has any."""
    if not question.choices:
        return question.question
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lines = [f"{letters[i]}. {choice}" for i, choice in enumerate(question.choices)]
    return question.question.rstrip() + "\n\n" + "\n".join(lines)


def _lineage(attempt_id: str, parent_of: dict[str, str | None] | _ParentsOnDisk) -> list[str]:
    """Ids of the attempt and the attempts it revised, oldest first (cycles are cut)."""
    chain, seen = [attempt_id], {attempt_id}
    parent = parent_of.get(attempt_id)
    while parent and parent not in seen and parent in parent_of:
        chain.append(parent)
        seen.add(parent)
        parent = parent_of[parent]
    return chain[::-1]


def _sample(question: Question, attempt: Attempt, critiques: Mapping[str, float]) -> Sample | None:
    """The sample of one attempt, lineage not yet filled; None when the attempt makes none."""
    if attempt.correct is not True or attempt.error:
        return None
    if not attempt.response.strip() or attempt.stage == "eval":
        return None
    return Sample(
        question_id=question.id,
        messages=[
            {"role": "user", "content": question_prompt(question)},
            {"role": "assistant", "content": attempt.response.strip()},
        ],
        provenance=Provenance(
            stage=attempt.stage,
            model=attempt.model,
            hinted=attempt.stage == "hinted",
            fallback=attempt.metadata.get("fallback") is True,
        ),
        scores={"critique": critiques.get(attempt.id)},
        subject=question.subject,
    )


def build_samples(
    questions: Iterable[Question],
    attempts: Iterable[Attempt],
    critiques: Mapping[str, float] | None = None,
) -> list[Sample]:
    """One Sample per correct, non-empty attempt whose question is known, in attempt order.

    `attempts` is read once and not kept (pass a stream, `iter_attempts`): what stays is the
    samples and each attempt's parent, for the lineage. `iter_samples` keeps neither."""
    by_question = {q.id: q for q in questions}
    critiques = critiques or {}
    parent_of: dict[str, str | None] = {}
    samples: list[tuple[str, Sample]] = []
    for attempt in attempts:
        parent_of[attempt.id] = attempt.parent_id
        question = by_question.get(attempt.question_id)
        sample = None if question is None else _sample(question, attempt, critiques)
        if sample is not None:
            samples.append((attempt.id, sample))
    for attempt_id, sample in samples:  # every parent is known now, wherever it was in the file
        sample.provenance.attempt_ids = _lineage(attempt_id, parent_of)
    return _unique_ids([sample for _, sample in samples])


def iter_samples(
    questions: Iterable[Question],
    attempts: Iterable[Attempt],
    critiques: Mapping[str, float],
    db: sqlite3.Connection,
) -> Iterator[Sample]:
    """`build_samples` one sample at a time, with the questions, every attempt's parent, the
    samples waiting for their lineage and the ids seen in `db` (a scratch SQLite file)."""
    db.executescript(
        "CREATE TABLE question (id TEXT PRIMARY KEY, record TEXT);"
        "CREATE TABLE parent (id TEXT PRIMARY KEY, parent TEXT);"
        "CREATE TABLE pending (seq INTEGER PRIMARY KEY, attempt TEXT, record TEXT);"
        "CREATE TABLE seen (id TEXT PRIMARY KEY, n INTEGER);"
    )
    # A question listed twice is its last row, as in `build_samples`'s dict.
    db.executemany(
        "INSERT OR REPLACE INTO question VALUES (?, ?)",
        ((q.id, q.model_dump_json()) for q in questions),
    )

    @lru_cache(maxsize=1024)  # a question's attempts come close together
    def question(question_id: str) -> Question | None:
        row = db.execute("SELECT record FROM question WHERE id = ?", (question_id,)).fetchone()
        return None if row is None else Question.model_validate_json(row[0])

    for attempt in attempts:
        db.execute("INSERT OR REPLACE INTO parent VALUES (?, ?)", (attempt.id, attempt.parent_id))
        known = question(attempt.question_id)
        sample = None if known is None else _sample(known, attempt, critiques)
        if sample is not None:
            db.execute(
                "INSERT INTO pending (attempt, record) VALUES (?, ?)",
                (attempt.id, sample.model_dump_json()),
            )
    parent_of = _ParentsOnDisk(db)
    for attempt_id, record in db.execute("SELECT attempt, record FROM pending ORDER BY seq"):
        sample = Sample.model_validate_json(record)
        sample.provenance.attempt_ids = _lineage(attempt_id, parent_of)
        row = db.execute("SELECT n FROM seen WHERE id = ?", (sample.id,)).fetchone()
        count = row[0] if row else 0
        db.execute("INSERT OR REPLACE INTO seen VALUES (?, ?)", (sample.id, count + 1))
        if count:
            sample.id = f"{sample.id}-{count}"
        yield sample


class _ParentsOnDisk:
    """attempt id -> parent id, read from `iter_samples`'s table (the `_lineage` mapping)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def _row(self, attempt_id: str) -> tuple[str | None] | None:
        return self.db.execute("SELECT parent FROM parent WHERE id = ?", (attempt_id,)).fetchone()

    def get(self, attempt_id: str) -> str | None:
        row = self._row(attempt_id)
        return None if row is None else row[0]

    def __contains__(self, attempt_id: object) -> bool:
        return isinstance(attempt_id, str) and self._row(attempt_id) is not None

    def __getitem__(self, attempt_id: str) -> str | None:
        return self.get(attempt_id)


def _unique_ids(samples: list[Sample]) -> list[Sample]:
    # Two identical solutions to one question hash to one id; suffix the later ones so every
    # sample stays addressable (the exact-dedup step decides which of them survives).
    seen: dict[str, int] = {}
    for sample in samples:
        count = seen.get(sample.id, 0)
        seen[sample.id] = count + 1
        if count:
            sample.id = f"{sample.id}-{count}"
    return samples


def question_text(sample: Sample) -> str:
    return next((m["content"] for m in sample.messages if m.get("role") == "user"), "")


def solution_text(sample: Sample) -> str:
    return next(
        (m["content"] for m in reversed(sample.messages) if m.get("role") == "assistant"), ""
    )


def quality_key(sample: Sample) -> tuple[Any, ...]:
    """Sort key, higher is better: classifier score, then critique, then how it was found.

    Used wherever curation keeps one of several samples (dedup clusters, per-question caps).
    Ties are left to the caller: stable sorts keep the earlier sample, dedup prefers it too.
    """
    classifier = sample.scores.get("classifier")
    critique = sample.scores.get("critique")
    return (
        -math.inf if classifier is None else classifier,
        -math.inf if critique is None else critique,
        STAGE_RANK.get(sample.provenance.stage, 0),
        sample.weight,
    )


# SQL's spelling of `sorted(key=quality_key, reverse=True)` over a `sample_table`: best first,
# ties in table order (Python's sort is stable).
BEST_FIRST = "k0 DESC, k1 DESC, k2 DESC, k3 DESC, seq"


def sample_table(db: sqlite3.Connection, table: str = "sample") -> RecordTable[Sample]:
    """Samples in a table of `db`, with what curation groups and sorts them by: the question,
    the subject, whether hinted, and `quality_key` as columns k0-k3."""

    def part(i: int) -> Any:
        return lambda sample: quality_key(sample)[i]

    columns = {
        "question": lambda sample: sample.question_id,
        "subject": lambda sample: sample.subject,
        "hinted": lambda sample: sample.provenance.hinted,
        **{f"k{i}": part(i) for i in range(4)},
    }
    return RecordTable(db, table, Sample, columns)
