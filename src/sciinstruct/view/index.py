"""An SQLite index of a run's files, so that a page never re-reads a JSONL file.

The index holds what the pages filter and count on (subject, stage solved, kept or dropped,
judge-grader disagreement...) and, for every record, its byte offset and length in its source
file: a question page seeks to its few lines instead of parsing 100,000. The index lives in
`RUN/view.sqlite` (a temporary folder when the run is read-only) and is rebuilt when the size or
modification time of a source file changes. overrides.jsonl is not indexed: it is small, changes
while the app runs, and is read on each request.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sciinstruct.critique.agreement import DEFAULT_THRESHOLD
from sciinstruct.rundir import RunDir

VERSION = "1"  # bump when the schema changes: an older index is then rebuilt
SOLVED_ORDER = ("cot", "reflect", "hinted", "sample")  # stages that solve a question, in order

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE questions(
    n INTEGER PRIMARY KEY, id TEXT, subject TEXT, source TEXT, answer_type TEXT, text TEXT,
    solved TEXT, curation TEXT, disagree INTEGER, attempts INTEGER, off INTEGER, len INTEGER);
CREATE TABLE attempts(
    n INTEGER PRIMARY KEY, id TEXT, question_id TEXT, stage TEXT, correct INTEGER,
    off INTEGER, len INTEGER);
CREATE TABLE critiques(attempt_id TEXT PRIMARY KEY, score REAL, off INTEGER, len INTEGER);
CREATE TABLE samples(attempt_id TEXT, question_id TEXT, off INTEGER, len INTEGER);
CREATE TABLE drops(
    attempt_id TEXT, question_id TEXT, kind TEXT, stage TEXT, reason TEXT,
    off INTEGER, len INTEGER);
CREATE TABLE facets(name TEXT, value TEXT, count INTEGER);
CREATE TABLE predictions(
    label TEXT, benchmark TEXT, question_id TEXT, subject TEXT, sample INTEGER,
    correct INTEGER, off INTEGER, len INTEGER);
CREATE TABLE eval_pairs(benchmark TEXT, question_id TEXT, subject TEXT, first INTEGER,
    second INTEGER);
"""
INDEXES = """
CREATE UNIQUE INDEX questions_id ON questions(id);
CREATE INDEX questions_subject ON questions(subject, n);
CREATE INDEX questions_solved ON questions(solved, n);
CREATE INDEX questions_curation ON questions(curation, n);
CREATE UNIQUE INDEX attempts_id ON attempts(id);
CREATE INDEX attempts_question ON attempts(question_id);
CREATE INDEX samples_question ON samples(question_id);
CREATE INDEX drops_question ON drops(question_id);
CREATE INDEX predictions_question ON predictions(benchmark, question_id);
"""


def _lines(path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(offset, length, object) of each JSON object line; unreadable lines are skipped (the
    stages that read these files report them; a viewer shows what can be read)."""
    if not path.exists():
        return
    offset = 0
    with open(path, "rb") as fh:
        for raw in fh:
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(value, dict):
                yield start, len(raw), value


def read_line(path: Path, offset: int, length: int) -> dict[str, Any]:
    """The record at `offset` of a source file (as indexed)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        return json.loads(fh.read(length))


def eval_dirs(run: RunDir) -> list[Path]:
    """The run's evaluation outputs (RUN/eval/<label>/predictions.jsonl): base first, tuned
    second, others by name, so the first two are the before/after pair."""
    root = run.eval_dir
    if not root.is_dir():
        return []
    inside = run.root.resolve()
    dirs = [
        d
        for d in root.iterdir()
        if d.is_dir()
        and (d / "predictions.jsonl").is_file()
        and (d / "predictions.jsonl").resolve().is_relative_to(inside)  # no links out of the run
    ]
    rank = {"base": 0, "tuned": 1}
    return sorted(dirs, key=lambda d: (rank.get(d.name, 2), d.name))


def sources(run: RunDir) -> list[Path]:
    """Every file the index is built from."""
    files = [run.questions, run.attempts, run.critiques, run.samples, run.dropped]
    return files + [
        d / name for d in eval_dirs(run) for name in ("predictions.jsonl", "results.json")
    ]


def signature(run: RunDir) -> str:
    """Changes when any source file is added, removed, grown, cut or touched."""
    parts = [VERSION]
    for path in sources(run):
        try:
            st = path.stat()
            parts.append(f"{path.relative_to(run.root)}:{st.st_size}:{st.st_mtime_ns}")
        except FileNotFoundError:
            parts.append(f"{path.relative_to(run.root)}:-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _judge_threshold(run: RunDir) -> int:
    """The critique threshold the run used (config.yaml), so "disagree" means what it said."""
    value = run.read_config().get("critique", {}).get("threshold", DEFAULT_THRESHOLD)
    return value if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_THRESHOLD


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def build(run: RunDir, path: Path) -> None:
    """Write a fresh index of `run` to `path` (atomically: readers see the old or the new)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        sig = signature(run)  # taken before reading: a change during the build triggers another
        _fill(run, db)
        db.executescript(INDEXES)
        db.execute("INSERT INTO meta VALUES ('signature', ?)", (sig,))
        db.commit()
    finally:
        db.close()
    os.replace(tmp, path)


def _chunks(rows: Iterator[tuple[Any, ...]], size: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in lists of `size`: inserted a chunk at a time, never a whole file in memory."""
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _insert(
    db: sqlite3.Connection, table: str, width: int, rows: Iterator[tuple[Any, ...]]
) -> None:
    verb = "INSERT OR REPLACE" if table == "critiques" else "INSERT"  # a later critique wins
    sql = f"{verb} INTO {table} VALUES ({','.join('?' * width)})"
    for chunk in _chunks(rows):
        db.executemany(sql, chunk)


def _critique_rows(run: RunDir) -> Iterator[tuple[Any, ...]]:
    for off, length, row in _lines(run.critiques):
        if isinstance(row.get("attempt_id"), str):
            score = row.get("score")
            ok = isinstance(score, int | float) and not isinstance(score, bool)
            yield row["attempt_id"], float(score) if ok else None, off, length


def _attempt_rows(run: RunDir) -> Iterator[tuple[Any, ...]]:
    for n, (off, length, row) in enumerate(_lines(run.attempts)):
        aid, qid, stage = row.get("id"), row.get("question_id"), row.get("stage")
        if isinstance(aid, str) and isinstance(qid, str):
            correct = _flag(row.get("correct")) if not row.get("error") else None
            yield n, aid, qid, str(stage), correct, off, length


def _sample_rows(run: RunDir) -> Iterator[tuple[Any, ...]]:
    for off, length, row in _lines(run.samples):
        ids = (row.get("provenance") or {}).get("attempt_ids") or [None]
        yield ids[-1], row.get("question_id"), off, length


def _drop_rows(run: RunDir) -> Iterator[tuple[Any, ...]]:
    for off, length, row in _lines(run.dropped):
        record = row.get("record") or {}
        ids = (record.get("provenance") or {}).get("attempt_ids") or [None]
        attempt = ids[-1] if row.get("kind") == "sample" else None
        qid = row.get("question_id")
        yield attempt, qid, row.get("kind"), row.get("stage"), row.get("reason"), off, length


FACETS = ("subject", "source", "answer_type")


def _question_rows(run: RunDir) -> Iterator[tuple[Any, ...]]:
    """Questions with their own fields; what the other files say of them is filled in by SQL."""
    for n, (off, length, row) in enumerate(_lines(run.questions)):
        qid = row.get("id")
        if isinstance(qid, str):
            values = [str(row.get(k) or "") for k in FACETS]
            yield (n, qid, *values, str(row.get("question", "")), "", "", 0, 0, off, length)


# The first stage in SOLVED_ORDER with a correct attempt; else unsolved (some attempt graded
# wrong) or ungradable; "" for a question without attempts (no row in `per_question`).
_SOLVED = (
    "CASE "
    + " ".join(f"WHEN p.{stage} THEN '{stage}'" for stage in SOLVED_ORDER)
    + " WHEN p.wrong THEN 'unsolved' ELSE 'ungradable' END"
)


def _fill(run: RunDir, db: sqlite3.Connection) -> None:
    """Stream every file into its table, then derive each question's row in SQL: memory stays
    flat however large the run."""
    _insert(db, "critiques", 4, _critique_rows(run))
    _insert(db, "attempts", 7, _attempt_rows(run))
    _insert(db, "samples", 4, _sample_rows(run))
    _insert(db, "drops", 7, _drop_rows(run))
    _insert(db, "questions", 12, _question_rows(run))
    solved_by = ", ".join(
        f"max(stage = '{stage}' AND correct = 1) AS {stage}" for stage in SOLVED_ORDER
    )
    db.executescript(
        f"""
        CREATE TEMP TABLE per_question AS
            SELECT question_id, count(*) AS n, {solved_by}, max(correct = 0) AS wrong
            FROM attempts GROUP BY question_id;
        CREATE UNIQUE INDEX temp.per_question_id ON per_question(question_id);
        CREATE INDEX questions_fill ON questions(id);
        UPDATE questions SET attempts = p.n, solved = {_SOLVED}
            FROM per_question AS p WHERE p.question_id = questions.id;
        UPDATE questions SET curation = 'dropped'
            WHERE id IN (SELECT question_id FROM drops WHERE question_id IS NOT NULL);
        UPDATE questions SET curation = 'kept'
            WHERE id IN (SELECT question_id FROM samples WHERE question_id IS NOT NULL);
        DROP TABLE temp.per_question;
        """
    )
    # judge and grader disagree: a critique score on one side of the threshold, the verdict on
    # the other
    db.execute(
        "UPDATE questions SET disagree = 1 WHERE id IN (SELECT a.question_id FROM attempts AS a "
        "JOIN critiques AS c ON c.attempt_id = a.id WHERE c.score IS NOT NULL AND "
        "a.correct IS NOT NULL AND (c.score >= ?) != a.correct)",
        (_judge_threshold(run),),
    )
    db.execute("DROP INDEX questions_fill")  # the unique one comes with INDEXES
    for name in FACETS:
        db.execute(
            f"INSERT INTO facets SELECT '{name}', {name}, count(*) FROM questions "
            f"GROUP BY {name} ORDER BY {name}"
        )
    _fill_eval(run, db)


def _fill_eval(run: RunDir, db: sqlite3.Connection) -> None:
    from sciinstruct.errors import InputError
    from sciinstruct.evaluate.paired import outcomes_by_benchmark

    dirs = eval_dirs(run)
    subjects: dict[tuple[str, str], str] = {}
    for directory in dirs:
        rows = []
        for off, length, row in _lines(directory / "predictions.jsonl"):
            key = (str(row.get("benchmark")), str(row.get("question_id")))
            subjects[key] = str(row.get("subject", ""))
            rows.append(
                (directory.name, *key, subjects[key], row.get("sample", 0),
                 _flag(row.get("correct")), off, length)
            )  # fmt: skip
        db.executemany("INSERT INTO predictions VALUES (?,?,?,?,?,?,?,?)", rows)
    if len(dirs) < 2:
        return
    try:
        first, second = outcomes_by_benchmark(dirs[0]), outcomes_by_benchmark(dirs[1])
    except InputError:
        return  # a half-written predictions file: the eval page shows results only
    pairs = [
        (name, qid, subjects.get((name, qid), ""), int(ok), int(second[name][qid]))
        for name, outcomes in first.items()
        if name in second
        for qid, ok in outcomes.items()
        if qid in second[name]
    ]
    db.executemany("INSERT INTO eval_pairs VALUES (?,?,?,?,?)", pairs)
    db.execute("INSERT INTO meta VALUES ('pair', ?)", (json.dumps([d.name for d in dirs[:2]]),))


@dataclass
class RunIndex:
    """The index of one run: `connect()` gives a read-only connection to an up-to-date index."""

    run: RunDir
    path: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._checked = ""
        self._memo: dict[str, Any] = {}

    @classmethod
    def open(cls, run: RunDir) -> RunIndex:
        path = run.view_index
        if not os.access(run.root, os.W_OK):
            # someone else's run, mounted read-only: keep the index in the temp folder
            key = hashlib.sha256(str(run.root.resolve()).encode()).hexdigest()[:16]
            path = Path(tempfile.gettempdir()) / f"sciinstruct-view-{key}.sqlite"
        index = cls(run, path)
        index.refresh()
        return index

    def _stored_signature(self) -> str | None:
        if not self.path.exists():
            return None
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as db:
                row = db.execute("SELECT value FROM meta WHERE key='signature'").fetchone()
            return row[0] if row else None
        except sqlite3.DatabaseError:
            return None  # an unreadable or foreign file: rebuilt

    def refresh(self) -> bool:
        """Rebuild when a source file changed; True when it did. Cheap when nothing changed:
        a few stat() calls."""
        current = signature(self.run)
        if current == self._checked:
            return False
        with self._lock:
            if current == self._checked:
                return False
            rebuilt = self._stored_signature() != current
            if rebuilt:
                build(self.run, self.path)
            self._memo = {}
            self._checked = current
            return rebuilt

    def memo(self, key: str, compute: Callable[[sqlite3.Connection], Any]) -> Any:
        """`compute(db)` once per version of the index: for the aggregates over every row
        (overview, eval), which only change when the files do."""
        self.refresh()
        memo = self._memo  # the dict of this version, even if a rebuild swaps it meanwhile
        if key not in memo:
            with self.connect() as db:
                memo[key] = compute(db)
        return memo[key]

    def connect(self) -> sqlite3.Connection:
        self.refresh()
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        db.row_factory = sqlite3.Row
        return db
