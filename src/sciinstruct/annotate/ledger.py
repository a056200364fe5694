"""What has been done: the attempts of the questions in progress, indexed by slot.

attempts.jsonl is the only record, so a run killed at any point (even between two lines)
resumes exactly: a slot with a finished attempt is never asked again, and a slot whose
generation failed is retried under a new id.

Memory holds the questions in progress, not the run. A fresh run starts empty and forgets a
question once it is settled. A resumed run first indexes attempts.jsonl into a temporary SQLite
file beside it (`AttemptIndex`), and a question's earlier attempts are read back from there
when the question comes up (`Ledger.open`).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from sciinstruct.annotate.stages import Slot, SlotKey, StagePlan, slots_for
from sciinstruct.jsonl import BadLine
from sciinstruct.records import Attempt, Question, Usage

_INDEX_SCHEMA = """
CREATE TABLE attempts(
    id TEXT PRIMARY KEY, question_id TEXT NOT NULL, stage TEXT NOT NULL, sample INTEGER,
    parent_id TEXT, model TEXT NOT NULL, correct INTEGER, error TEXT, response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached INTEGER NOT NULL,
    line INTEGER NOT NULL
) WITHOUT ROWID
"""
_BATCH = 2000  # rows per executemany while indexing


def read_attempts(path: str | Path, bad: list[BadLine] | None = None) -> Iterator[Attempt]:
    """Each attempt of an attempts file once (the first line of an id wins), in file order.

    Unreadable lines (a cut-off last line after a kill) go to `bad`. Lines are parsed and
    validated in one step by pydantic's JSON parser: the hot path of a resumed run.
    """
    path = Path(path)
    if not path.exists():
        return
    seen: set[str] = set()
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                attempt = Attempt.model_validate_json(line)
            except ValidationError as exc:
                if bad is not None:
                    bad.append(BadLine(str(path), number, _why(exc, line)))
                continue
            if attempt.id not in seen:
                seen.add(attempt.id)
                yield attempt


class AttemptIndex:
    """An attempts file indexed by question on disk: what a resumed run pulls question by
    question. Holds each attempt's verdict and response (what walking and revising need),
    not its prompt. The file is temporary: `close()` deletes it."""

    def __init__(self, attempts: Iterable[Attempt], directory: Path) -> None:
        fd, name = tempfile.mkstemp(prefix=".ledger-", suffix=".sqlite", dir=directory)
        os.close(fd)
        self.path = Path(name)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            + _INDEX_SCHEMA
        )
        self.db.execute("BEGIN")
        rows: list[tuple[object, ...]] = []
        for line, a in enumerate(attempts):
            sample = a.metadata.get("sample")
            rows.append(
                (a.id, a.question_id, a.stage, sample if isinstance(sample, int) else None,
                 a.parent_id, a.model, a.correct, a.error, a.response, a.usage.prompt_tokens,
                 a.usage.completion_tokens, int(a.usage.cached), line)
            )  # fmt: skip
            if len(rows) >= _BATCH:
                self._insert(rows)
        self._insert(rows)
        self.db.execute("CREATE INDEX attempts_question ON attempts(question_id, line)")
        self.db.execute("COMMIT")

    def _insert(self, rows: list[tuple[object, ...]]) -> None:
        self.db.executemany(f"INSERT OR IGNORE INTO attempts VALUES ({','.join('?' * 13)})", rows)
        rows.clear()

    def of_question(self, question_id: str) -> list[Attempt]:
        """The question's attempts in file order, each with what the ledger reads of it."""
        cursor = self.db.execute(
            "SELECT id, stage, sample, parent_id, model, correct, error, response, "
            "prompt_tokens, completion_tokens, cached FROM attempts WHERE question_id = ? "
            "ORDER BY line",
            (question_id,),
        )
        return [
            Attempt.model_construct(  # from validated lines: no second validation
                id=aid,
                question_id=question_id,
                stage=stage,
                parent_id=parent,
                model=model,
                messages=[],
                response=response,
                extracted=None,
                correct=None if correct is None else bool(correct),
                grade_reason="",
                error=error,
                metadata={} if sample is None else {"sample": sample},
                usage=Usage(prompt_tokens=p_tok, completion_tokens=c_tok, cached=bool(cached)),
            )  # fmt: skip
            for aid, stage, sample, parent, model, correct, error, response, p_tok, c_tok, cached in cursor
        ]

    def models(self) -> set[str]:
        """Models of the finished annotation attempts."""
        rows = self.db.execute(
            "SELECT DISTINCT model FROM attempts WHERE error IS NULL AND sample IS NOT NULL"
        )
        return {model for (model,) in rows}

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)


class Ledger:
    """Finished attempts and failed tries by slot key, for the questions in progress.

    `on_add` is told every attempt new to the ledger (the funnel counts them)."""

    def __init__(
        self,
        index: AttemptIndex | None = None,
        on_add: Callable[[Attempt], None] = lambda attempt: None,
    ) -> None:
        self.index = index
        self.on_add = on_add
        self.finished: dict[SlotKey, Attempt] = {}
        self.failures: Counter[SlotKey] = Counter()
        self._ids: dict[str, set[str]] = {}  # question id -> ids of its attempts held here
        self._keys: dict[str, set[SlotKey]] = {}  # question id -> its slot keys held here

    @classmethod
    def load(cls, path: str | Path, bad: list[BadLine] | None = None) -> Ledger:
        """The ledger of an attempts file, indexed on disk beside it (nothing when absent)."""
        path = Path(path)
        if not path.exists():
            return cls()
        return cls(AttemptIndex(read_attempts(path, bad), path.parent))

    def models(self) -> set[str]:
        """Models of the finished attempts already in the attempts file."""
        return self.index.models() if self.index is not None else set()

    def open(self, question_id: str) -> None:
        """Start holding a question: its attempts from the file, if any."""
        if question_id in self._ids:
            return
        self._ids[question_id] = set()
        self._keys[question_id] = set()
        if self.index is not None:
            self.extend(self.index.of_question(question_id))

    def forget(self, question_id: str) -> None:
        """Stop holding a settled question."""
        self._ids.pop(question_id, None)
        for key in self._keys.pop(question_id, ()):
            self.finished.pop(key, None)
            self.failures.pop(key, None)

    def add(self, attempt: Attempt) -> None:
        ids = self._ids.setdefault(attempt.question_id, set())
        if attempt.id in ids:
            return
        ids.add(attempt.id)
        self.on_add(attempt)
        index = attempt.metadata.get("sample")
        if not isinstance(index, int):
            return  # not made by annotate (e.g. an eval attempt): no slot to fill
        key = (attempt.question_id, attempt.stage, index, attempt.parent_id)
        self._keys.setdefault(attempt.question_id, set()).add(key)
        if attempt.error is not None:
            self.failures[key] += 1
        else:
            self.finished.setdefault(key, attempt)

    def extend(self, attempts: Iterable[Attempt]) -> None:
        for attempt in attempts:
            self.add(attempt)

    def close(self) -> None:
        if self.index is not None:
            self.index.close()


@dataclass(frozen=True)
class Outcome:
    """Where a question stands.

    status: `solved` (at `stage`), `unsolved` (every stage ran, nothing correct), `ungradable`
    (the reference could not be parsed), or `pending` (the `missing` slots of `stage` are still
    to be made; `failed` when some of them already failed to generate).
    """

    status: str
    stage: str | None = None
    missing: tuple[Slot, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == "pending" and any(s.retry > 0 for s in self.missing)


def walk(question: Question, ledger: Ledger, stages: Sequence[str], plan: StagePlan) -> Outcome:
    """Replay a question's stages against the ledger: the first unfinished stage, or the end."""
    earlier: dict[str, list[Attempt]] = {}
    for stage in stages:
        slots = slots_for(stage, question, earlier, plan)
        done = [ledger.finished.get(s.key) for s in slots]
        missing = tuple(
            replace(s, retry=ledger.failures[s.key])
            for s, a in zip(slots, done, strict=True)
            if a is None
        )
        if missing:
            return Outcome("pending", stage, missing)
        finished = [a for a in done if a is not None]
        earlier[stage] = finished
        if any(a.correct for a in finished):
            return Outcome("solved", stage)
        if any(a.correct is None for a in finished):
            return Outcome("ungradable", stage)
    return Outcome("unsolved")


def _why(exc: ValidationError, line: bytes) -> str:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return (
            "truncated last line" if not line.endswith(b"\n") else f"invalid JSON ({first['msg']})"
        )
    where = ".".join(str(p) for p in first["loc"])
    return f"not an attempt: field '{where}': {first['msg']}"
