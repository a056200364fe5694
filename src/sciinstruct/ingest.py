"""Read questions from JSONL, CSV, Parquet or a local Hugging Face dataset into a run directory.

Bad input never crashes ingestion and is never dropped silently: every refused row goes to
`rejected.jsonl` with file, line, field and reason. Accepted rows are appended to
`questions.jsonl`; a re-run of the same input adds nothing (ids are stable content hashes).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sciinstruct.errors import InputError
from sciinstruct.jsonl import JsonlWriter, read_jsonl
from sciinstruct.records import Question
from sciinstruct.rows import FORMATS, detect_format, scan_rows
from sciinstruct.rundir import RunDir, writes_run
from sciinstruct.scratch import DiskDict, scratch_db
from sciinstruct.settings import check_declared, option

QUESTION_FIELDS = tuple(Question.model_fields)
STRING_FIELDS = ("id", "question", "answer", "solution", "subject", "answer_type", "unit", "source")
# Fields where a number is a natural spelling (GSM8K's answer 42, an integer id). Everywhere else
# text is required: a number in `question` or `unit` is a wrong --map, not a question "17".
NUMBER_AS_TEXT = ("id", "answer")
# A text field longer than this is a broken row (a blob in the wrong column), not a question: it
# would not fit any model's context. 100,000 characters is ~25,000 tokens.
MAX_FIELD_CHARS = 100_000
# Raw rows in rejected.jsonl are cut to this many characters: enough to find the row, not a copy
# of a 100 MB blob that happened to sit in one cell.
MAX_RAW_CHARS = 2000


@dataclass(frozen=True)
class IngestOptions:
    """How `ingest` reads a file: the command's options, each declared once."""

    map: str | None = option(
        None, "Field mapping OURS=THEIRS, comma separated, e.g. question=problem,answer=final."
    )
    format: str = option("auto", "Input format (auto: from the file's name).", choices=FORMATS)
    split: str | None = option(None, "Split of a Hugging Face DatasetDict.")
    source: str | None = option(
        None, "Source name stored on each question (default: the file name)."
    )
    subject: str | None = option(None, "Subject for rows that do not give one.")
    answer_type: str | None = option(None, "Answer type for rows that do not give one.")
    strict: bool = option(False, "Exit 2 when any row is rejected.")

    def __post_init__(self) -> None:
        check_declared(self)
        parse_mapping(self.map)  # a bad --map is refused before any file is read

    def mapping(self) -> dict[str, str]:
        return parse_mapping(self.map)


# Rejected rows an `IngestResult` holds, to show; all of them are in rejected.jsonl.
REJECTED_SHOWN = 5


@dataclass
class IngestResult:
    """What one ingest did: counts, and the first `REJECTED_SHOWN` rejected rows."""

    read: int = 0
    accepted: int = 0
    already_present: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0

    def reject(self, record: dict[str, Any]) -> None:
        self.rejected_count += 1
        if len(self.rejected) < REJECTED_SHOWN:
            self.rejected.append(record)

    def summary(self, source: str, run: RunDir) -> str:
        text = f"ingested {self.accepted} question(s) from {source}"
        extras = []
        if self.already_present:
            extras.append(f"{self.already_present} already in the run")
        if self.rejected_count:
            extras.append(f"{self.rejected_count} rejected -> {run.rejected}")
        return text + (f" ({', '.join(extras)})" if extras else "")


def parse_mapping(spec: str | None) -> dict[str, str]:
    """`question=problem,answer=final` -> {"question": "problem", "answer": "final"}."""
    if not spec:
        return {}
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        ours, sep, theirs = (p.strip() for p in part.partition("="))
        if not sep or not ours or not theirs:
            raise InputError(
                f"bad --map entry '{part}': expected OURS=THEIRS, e.g. question=problem"
            )
        if ours not in QUESTION_FIELDS:
            raise InputError(
                f"bad --map entry '{part}': '{ours}' is not a question field "
                f"(expected one of {', '.join(QUESTION_FIELDS)})"
            )
        mapping[ours] = theirs
    return mapping


# ---------------------------------------------------------------------------------------------
# Validation: a raw row becomes a Question or a rejection with the field and reason.


class RowError(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _kind(value: Any) -> str:
    """How a refused value reads in a reason: its type, and the value when it is short."""
    if isinstance(value, bool | float) or (isinstance(value, int) and value.bit_length() < 64):
        return f"{type(value).__name__} {value!r}"
    return type(value).__name__


def _check_text(name: str, value: str) -> str:
    if "\x00" in value:
        raise RowError(name, f"contains a NUL byte at character {value.index(chr(0)) + 1}")
    if len(value) > MAX_FIELD_CHARS:
        raise RowError(name, f"{len(value):,} characters, over the {MAX_FIELD_CHARS:,} limit")
    return value


def _coerce(name: str, value: Any) -> Any:
    """Accept the spellings real datasets use; refuse types that would lose meaning."""
    if value is None:
        return None
    if name in STRING_FIELDS:
        if isinstance(value, str):
            return _check_text(name, value)
        finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
        if name not in NUMBER_AS_TEXT or isinstance(value, bool) or not finite:
            raise RowError(name, f"expected a string, got {_kind(value)}")
        try:
            return str(value)  # GSM8K-style numeric answers are fine as text
        except ValueError:  # an int past Python's 4,300-digit limit: no answer is that long
            raise RowError(name, "expected a string, got an int too long to print") from None
    if name == "choices":
        if isinstance(value, str):  # CSV cells: a JSON list or "a|b|c"
            value = json.loads(value) if value.lstrip().startswith("[") else value.split("|")
        if not isinstance(value, list) or not all(
            isinstance(c, str | int | float) and not isinstance(c, bool) for c in value
        ):
            raise RowError(name, "expected a list of strings")
        return [str(c) for c in value]
    if name == "metadata":
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            raise RowError(name, f"expected an object, got {type(value).__name__}")
    return value


def to_question(
    data: dict[str, Any], mapping: dict[str, str], defaults: dict[str, Any]
) -> Question:
    taken: set[str] = set()
    fields: dict[str, Any] = {}
    for name in QUESTION_FIELDS:
        column = mapping.get(name, name)
        if column in data and data[column] is not None:
            try:
                fields[name] = _coerce(name, data[column])
            except json.JSONDecodeError as exc:
                raise RowError(name, f"not valid JSON ({exc.msg})") from exc
            taken.add(column)
    for required in ("question", "answer"):
        if required not in fields:
            column = mapping.get(required, required)
            hint = f" (mapped from '{column}')" if column != required else ""
            raise RowError(required, f"missing required field{hint}")
    # Columns we do not know are kept in metadata, never dropped.
    extra = {k: v for k, v in data.items() if k not in taken}
    if extra:
        fields["metadata"] = {**extra, **fields.get("metadata", {})}
    for key, value in defaults.items():
        fields.setdefault(key, value)
    try:
        return Question(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        raise RowError(loc, first["msg"]) from exc


@writes_run("ingest")  # two ingests at once would both append the new questions
def ingest(path: str | Path, run: RunDir, options: IngestOptions | None = None) -> IngestResult:
    """Validate every row of `path` into `run/questions.jsonl`; refused rows to `rejected.jsonl`."""
    path = Path(path)
    options = options or IngestOptions()
    if not path.exists():
        raise InputError("no such file or directory", file=str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("the file is empty: expected one question per row", file=str(path))
    source = options.source if options.source is not None else path.stem
    defaults: dict[str, Any] = {"source": source}
    if options.subject:
        defaults["subject"] = options.subject
    if options.answer_type:
        defaults["answer_type"] = options.answer_type

    run.ensure()
    # Not a file in the run: on a full disk the first write to fail must be questions.jsonl's,
    # whose error says what to do (its scratch is a few dozen bytes a question).
    with scratch_db() as db:
        result, questions = _ingest_rows(path, run, options, defaults, db)
    if result.read == 0:
        raise InputError("no rows found: expected one question per row", file=str(path))
    run.update_stats(
        "ingest",
        {
            "questions": questions,
            "last_file": str(path),
            "last_read": result.read,
            "last_accepted": result.accepted,
            "last_rejected": result.rejected_count,
            "last_already_present": result.already_present,
        },
    )
    return result


def _ingest_rows(
    path: Path,
    run: RunDir,
    options: IngestOptions,
    defaults: dict[str, Any],
    db: sqlite3.Connection,
) -> tuple[IngestResult, int]:
    """Every row of `path` accepted or rejected, and the questions the run has now. The ids already in the run (with their record),
    the first line of each id in this file and the rejections already written wait in `db`, a
    scratch SQLite file: a run of millions of questions is not held in memory."""
    mapping = options.mapping()
    known = DiskDict(db, "known")  # id -> the record in the run (None: accepted just now)
    for question in read_jsonl(run.questions):
        known[question["id"]] = json.dumps(question)
    first_line = DiskDict(db, "first_line")
    seen_rejections = DiskDict(db, "seen_rejection")  # [file, line] as JSON
    for row in read_jsonl(run.rejected):
        seen_rejections.add(json.dumps([row.get("file"), row.get("line")]))
    result = IngestResult()
    is_csv = (detect_format(path) if options.format == "auto" else options.format) == "csv"
    with JsonlWriter(run.questions) as accepted, JsonlWriter(run.rejected) as rejected:
        for row in scan_rows(path, options.format, options.split):
            result.read += 1
            try:
                if row.data is None:
                    raise RowError(None, row.bad or "unreadable row")
                data = row.data
                if is_csv:  # an empty cell is a missing value
                    data = {k: v for k, v in data.items() if v != ""}
                question = to_question(data, mapping, defaults)
                if question.id in first_line:
                    raise RowError(
                        "id",
                        f"duplicate id '{question.id}' (first on line {first_line[question.id]})",
                    )
                first_line[question.id] = row.line
                if question.id in known:
                    previous = known[question.id]
                    if previous is not None and json.loads(previous) != question.to_json_dict():
                        raise RowError(
                            "id", f"id '{question.id}' is already in the run with other content"
                        )
                    result.already_present += 1
                    continue
                accepted.write(question)
                known.add(question.id)
                result.accepted += 1
            except RowError as exc:
                record = {
                    "file": str(path),
                    "line": row.line,
                    "field": exc.field,
                    "reason": exc.reason,
                    "raw": row.raw[:MAX_RAW_CHARS],
                }
                result.reject(record)
                if json.dumps([record["file"], record["line"]]) not in seen_rejections:
                    rejected.write(record)
    return result, len(known)


def load_questions(run: RunDir) -> list[Question]:
    """The run's validated questions; a bad line (e.g. cut off by a kill) is an error with its place."""
    return list(iter_questions(run))


def iter_questions(run: RunDir) -> Iterator[Question]:
    """The run's validated questions, read as they are asked for (`load_questions` holds them
    all). A bad record is an error with its place; no questions at all is an error too."""
    from sciinstruct.jsonl import BadLine
    from sciinstruct.log import logger

    bad: list[BadLine] = []
    count = 0
    for number, row in enumerate(read_jsonl(run.questions, bad), start=1):
        try:
            question = Question(**row)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InputError(
                f"{first['msg']} (record {number}; re-ingest the source file)",
                file=str(run.questions),
                field=".".join(str(p) for p in first["loc"]) or None,
            ) from exc
        count += 1
        yield question
    for line in bad:
        logger.warning("skipped %s", line)
    if not count:
        where = f" ({bad[0]})" if bad else ""
        raise InputError(
            f"no questions in the run: run `sciinstruct ingest` first{where}",
            file=str(run.questions),
        )
