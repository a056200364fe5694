"""Scratch SQLite files: where a stage keeps what it must look up or group across a whole run
(questions by id, candidates by fold, samples by question) instead of holding it in memory.

`scratch_db` is the file; `DiskDict` a dict in one of its tables (ids seen, a score per
attempt); `RecordTable` an ordered list of records in one, each kept or dropped, that a stage
passes over once per step (curate's questions and samples).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

R = TypeVar("R", bound=BaseModel)

# Rows read per query when passing over a table: a few MB of records at a time.
CHUNK_ROWS = 1000


@contextmanager
def scratch_db(directory: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A throwaway SQLite file in a fresh folder under `directory`, removed on exit.

    Nothing in it needs to survive a crash, so there is no journal and no fsync. Without a
    `directory` it is SQLite's own temporary database (`connect("")`): pages in memory up to
    its cache size (2 MB), the rest in a file in the system's temporary folder.
    """
    if directory is None:
        db = sqlite3.connect("")
        try:
            yield db
        finally:
            db.close()
        return
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".scratch-") as folder:
        db = sqlite3.connect(Path(folder) / "scratch.sqlite")
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        try:
            yield db
        finally:
            db.close()


class DiskDict(MutableMapping[str, Any]):
    """A dict from text keys to SQLite values (text, numbers, None) in a table of `db`.

    One indexed statement an operation: for lookups by id across a run (ids already seen, the
    judge score of each attempt) whose Python dict would grow with the run.
    """

    def __init__(self, db: sqlite3.Connection, table: str) -> None:
        self.db, self.table = db, table
        db.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, value)")

    def __setitem__(self, key: str, value: Any) -> None:
        self.db.execute(f"INSERT OR REPLACE INTO {self.table} VALUES (?, ?)", (key, value))

    def __delitem__(self, key: str) -> None:
        self.db.execute(f"DELETE FROM {self.table} WHERE key = ?", (key,))

    def _row(self, key: str) -> tuple[Any] | None:
        return self.db.execute(f"SELECT value FROM {self.table} WHERE key = ?", (key,)).fetchone()

    def get(self, key: str, default: Any = None) -> Any:
        row = self._row(key)
        return default if row is None else row[0]

    def __getitem__(self, key: str) -> Any:
        row = self._row(key)
        if row is None:
            raise KeyError(key)
        return row[0]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._row(key) is not None

    def add(self, key: str) -> bool:
        """Set-like use: record `key`; True when it was not there before."""
        cursor = self.db.execute(f"INSERT OR IGNORE INTO {self.table} VALUES (?, NULL)", (key,))
        return cursor.rowcount == 1

    def __len__(self) -> int:
        (count,) = self.db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()
        return int(count)

    def __iter__(self) -> Iterator[str]:
        return (key for (key,) in self.db.execute(f"SELECT key FROM {self.table}"))


class RecordTable(Generic[R]):
    """Records of one model in a table of `db`, in the order added, each kept or dropped.

    A step reads the kept records in order (`__iter__`, `where`), drops some (`drop`) or
    rewrites them (`replace`); `columns` are values derived from each record (its question,
    subject, sort key) that SQL can group and sort by, so no step holds the records.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        table: str,
        model: type[R],
        columns: dict[str, Callable[[R], Any]] | None = None,
    ) -> None:
        self.db, self.table, self.model = db, table, model
        self.columns = columns or {}
        derived = "".join(f", {name}" for name in self.columns)
        db.execute(
            f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, kept INTEGER NOT NULL DEFAULT 1,"
            f" record TEXT NOT NULL{derived})"
        )
        names = ", ".join(["record", *self.columns])
        marks = ", ".join("?" * (1 + len(self.columns)))
        self._insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        sets = ", ".join(f"{name} = ?" for name in ["record", *self.columns])
        self._update = f"UPDATE {table} SET {sets} WHERE seq = ?"

    def _values(self, record: R) -> tuple[Any, ...]:
        return (record.model_dump_json(), *(derive(record) for derive in self.columns.values()))

    def extend(self, records: Iterable[R]) -> None:
        """Append `records` (read one at a time: they may come from a stream)."""
        for record in records:
            self.db.execute(self._insert, self._values(record))

    def index(self, *columns: str) -> None:
        """An index on derived columns, for the lookups and groups a step makes."""
        name = f"{self.table}_{'_'.join(columns)}"
        self.db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {self.table} ({', '.join(columns)})")

    def where(self, condition: str = "1", params: tuple[Any, ...] = ()) -> Iterator[tuple[int, R]]:
        """(seq, record) of the kept records matching an SQL condition, in order.

        Read `CHUNK_ROWS` at a time, each chunk by its own query, so the caller may drop or
        replace records between (or during) chunks."""
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT seq, record FROM {self.table} WHERE kept AND seq > ? AND ({condition})"
                f" ORDER BY seq LIMIT {CHUNK_ROWS}",
                (last, *params),
            ).fetchall()
            if not rows:
                return
            for seq, record in rows:
                yield seq, self.model.model_validate_json(record)
            last = rows[-1][0]

    def __iter__(self) -> Iterator[tuple[int, R]]:
        return self.where()

    def records(self) -> Iterator[R]:
        """The kept records alone, in order."""
        return (record for _, record in self.where())

    def get(self, seq: int) -> R:
        (record,) = self.db.execute(
            f"SELECT record FROM {self.table} WHERE seq = ?", (seq,)
        ).fetchone()
        return self.model.model_validate_json(record)

    def drop(self, seq: int) -> None:
        self.db.execute(f"UPDATE {self.table} SET kept = 0 WHERE seq = ?", (seq,))

    def replace(self, seq: int, record: R) -> None:
        self.db.execute(self._update, (*self._values(record), seq))

    def selected(self, query: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[int, R]]:
        """(seq, record) of the kept records whose seq an SQL query selects, in order.

        The query runs once, into a table (a grouped or ranked query would be too dear to run
        again for every chunk)."""
        chosen = f"{self.table}_selected"
        self.db.execute(f"DROP TABLE IF EXISTS {chosen}")
        self.db.execute(f"CREATE TABLE {chosen} (seq INTEGER PRIMARY KEY)")
        self.db.execute(f"INSERT OR IGNORE INTO {chosen} {query}", params)
        return self.where(f"EXISTS (SELECT 1 FROM {chosen} c WHERE c.seq = {self.table}.seq)")

    def __len__(self) -> int:
        (count,) = self.db.execute(f"SELECT COUNT(*) FROM {self.table} WHERE kept").fetchone()
        return int(count)
