"""The response cache: the key to resuming, and to re-runs that cost nothing.

One SQLite file per run (`RUN/cache.sqlite`) in WAL mode, so readers never block the writer and
several threads or processes can share it: each write is one short `BEGIN IMMEDIATE` transaction,
and a writer that finds the file locked waits (busy timeout) instead of failing. Only successful
completions are stored, so failures are tried again on the next run. A writer killed mid-run loses
at most its current transaction; everything committed before stays.

Each completion is stored the moment its backend reports it finished (see `OnDone`), not when
its batch returns. Every row counts how often it was stored (`stores`): a second store of a key
means the same request was generated twice, so `repeated()` is the number of LLM calls a run
(killed and resumed any number of times) paid for twice, read from the file itself.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from sciinstruct.llm.base import (
    Backend,
    Completion,
    GenerationRequest,
    OnDone,
    cache_key,
    reports_each,
)

_BUSY_TIMEOUT_MS = 60_000  # a writer waits up to a minute for another's transaction to end
_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    created REAL NOT NULL,
    stores INTEGER NOT NULL DEFAULT 1
)
"""
# Insert, or on a key already there (a request generated again) replace it and count the store.
_UPSERT = """
INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT(key) DO UPDATE SET
    backend = excluded.backend, model = excluded.model, text = excluded.text,
    finish_reason = excluded.finish_reason, prompt_tokens = excluded.prompt_tokens,
    completion_tokens = excluded.completion_tokens, latency_s = excluded.latency_s,
    created = excluded.created, stores = stores + 1
"""


class ResponseCache:
    """Successful completions keyed by `cache_key` (backend, model, messages, params, seed).

    Counters of this process: `hits` (keys found), `misses` (keys looked up and not found) and
    `stores` (rows written). `repeated()` counts across every process that used the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self.hits = self.misses = self.stores = 0
        with self._lock:
            conn = self._connection()
            conn.execute(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(responses)")}
            if "stores" not in columns:  # a cache written before stores were counted
                conn.execute("ALTER TABLE responses ADD COLUMN stores INTEGER NOT NULL DEFAULT 1")

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork: a child process opens its own.
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process (only an OS crash can lose the tail).
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get_many(self, keys: Sequence[str]) -> dict[str, Completion]:
        """The cached completions among `keys` (missing keys are absent), marked `cached=True`."""
        found: dict[str, Completion] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            conn = self._connection()
            for start in range(0, len(unique), 500):  # stay under SQLite's bound-variable limit
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    "SELECT key, text, finish_reason, prompt_tokens, completion_tokens, latency_s "
                    f"FROM responses WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, text, finish, p_tok, c_tok, latency in rows:
                    found[key] = Completion(
                        text=text, finish_reason=finish, prompt_tokens=p_tok,
                        completion_tokens=c_tok, latency_s=latency, cached=True,
                    )  # fmt: skip
            self.hits += len(found)
            self.misses += len(unique) - len(found)
        return found

    def get(self, key: str) -> Completion | None:
        return self.get_many([key]).get(key)

    def put(self, key: str, backend: str, model: str, completion: Completion) -> bool:
        """Store one completion (its own transaction); an error is not stored. True if stored."""
        return self.put_many([(key, backend, model, completion)]) == 1

    def put_many(self, items: Iterable[tuple[str, str, str, Completion]]) -> int:
        """Store (key, backend, model, completion) rows in one transaction; errors are skipped.

        Returns how many rows were written."""
        now = time.time()
        rows = [
            (key, backend, model, c.text, c.finish_reason, c.prompt_tokens,
             c.completion_tokens, c.latency_s, now)
            for key, backend, model, c in items
            if c.ok
        ]  # fmt: skip
        if not rows:
            return 0
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self.stores += len(rows)
        return len(rows)

    def repeated(self) -> int:
        """Stores of a key already stored: requests generated more than once, over the file's
        whole life (every process, killed or not)."""
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT COALESCE(SUM(stores - 1), 0) FROM responses")
                .fetchone()
            )
        return int(row[0])

    def __len__(self) -> int:
        with self._lock:
            return self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class CachedBackend:
    """Any backend behind the response cache: hits are answered from SQLite, misses are
    forwarded to the backend in calls of up to `chunk_size` requests, and each completion is
    stored as soon as the backend reports it finished, so a run killed in the middle of a batch
    keeps what the batch had finished and a re-run of finished work calls no LLM at all.

    `hits` counts requests answered from the cache, `misses` the requests sent to the backend.
    A backend whose `generate` takes no `on_done` (one written outside this package) has its
    completions stored when its call returns."""

    def __init__(
        self, backend: Backend, cache_path: str | Path | ResponseCache, chunk_size: int = 256
    ) -> None:
        self.backend = backend
        self.name = backend.name
        self.model = backend.model
        self.cache = (
            cache_path if isinstance(cache_path, ResponseCache) else ResponseCache(cache_path)
        )
        self.chunk_size = chunk_size
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"CachedBackend({self.backend!r}, cache={str(self.cache.path)!r})"

    def _lookup(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None
    ) -> tuple[list[str], dict[str, Completion], list[int]]:
        """Keys of all requests, the answers found, and the index of each distinct miss (a
        request repeated within a batch goes to the backend once)."""
        keys = [cache_key(self.name, self.model, r) for r in requests]
        answers = self.cache.get_many(keys)
        first_miss: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key in answers:
                self.hits += 1
                if on_done is not None:
                    on_done(i, dataclasses.replace(answers[key]))
            else:
                first_miss.setdefault(key, i)
        self.misses += len(first_miss)
        return keys, answers, list(first_miss.values())

    def _recorder(
        self,
        keys: list[str],
        answers: dict[str, Completion],
        chunk: list[int],
        on_done: OnDone | None,
    ) -> OnDone:
        """The `on_done` handed to the backend for `chunk` (it may call it from its threads):
        store the completion now, then tell the caller of each request sharing its key."""
        recorded: set[int] = set()
        askers: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            askers.setdefault(key, []).append(i)

        def record(position: int, completion: Completion) -> None:
            if position in recorded:
                return
            recorded.add(position)
            key = keys[chunk[position]]
            self.cache.put(key, self.name, self.model, completion)
            answers[key] = completion
            if on_done is not None:
                for i in askers[key]:
                    on_done(i, dataclasses.replace(completion))

        return record

    @staticmethod
    def _finish(record: OnDone, out: Sequence[Completion]) -> None:
        """Record what the backend did not report itself (all of it, for a backend that
        cannot report each completion)."""
        for position, completion in enumerate(out):
            record(position, completion)

    @staticmethod
    def _in_order(keys: list[str], answers: dict[str, Completion]) -> list[Completion]:
        return [dataclasses.replace(answers[key]) for key in keys]  # copies: repeats stay apart

    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        keys, answers, todo = self._lookup(requests, on_done)
        streams = reports_each(self.backend.generate)
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start : start + self.chunk_size]
            record = self._recorder(keys, answers, chunk, on_done)
            sent = [requests[i] for i in chunk]
            if streams:
                out = self.backend.generate(sent, on_done=record)
            else:
                out = self.backend.generate(sent)
            self._finish(record, out)
        return self._in_order(keys, answers)

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        keys, answers, todo = self._lookup(requests, on_done)
        streams = reports_each(self.backend.agenerate)
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start : start + self.chunk_size]
            record = self._recorder(keys, answers, chunk, on_done)
            sent = [requests[i] for i in chunk]
            if streams:
                out = await self.backend.agenerate(sent, on_done=record)
            else:
                out = await self.backend.agenerate(sent)
            self._finish(record, out)
        return self._in_order(keys, answers)

    def close(self) -> None:
        self.backend.close()
        self.cache.close()
