"""The response cache: the key to resuming, and to re-runs that cost nothing.

One SQLite file per run (`RUN/cache.sqlite`) in WAL mode, so readers never block the writer and
several threads or processes can share it: each write is one short `BEGIN IMMEDIATE` transaction,
and a writer that finds the file locked waits (busy timeout) instead of failing. Only successful
completions are stored, so failures are tried again on the next run. A writer killed mid-run loses
at most its current transaction; everything committed before stays.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from sciinstruct.llm.base import Backend, Completion, GenerationRequest, cache_key

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
    created REAL NOT NULL
)
"""


class ResponseCache:
    """Successful completions keyed by `cache_key` (backend, model, messages, params, seed)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        with self._lock:
            self._connection().execute(_SCHEMA)

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
        return found

    def get(self, key: str) -> Completion | None:
        return self.get_many([key]).get(key)

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
                conn.executemany(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return len(rows)

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
    forwarded to the backend in batches of `chunk_size` and stored as each batch lands, so a
    killed run keeps what it finished and a re-run of finished work calls no LLM at all.

    `hits` counts requests answered from the cache, `misses` the requests sent to the backend."""

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
        self, requests: Sequence[GenerationRequest]
    ) -> tuple[list[str], dict[str, Completion], list[int]]:
        """Keys of all requests, the answers found, and the index of each distinct miss (a
        request repeated within a batch goes to the backend once)."""
        keys = [cache_key(self.name, self.model, r) for r in requests]
        answers = self.cache.get_many(keys)
        first_miss: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in answers:
                first_miss.setdefault(key, i)
        self.hits += sum(key in answers for key in keys)
        self.misses += len(first_miss)
        return keys, answers, list(first_miss.values())

    def _land(
        self,
        keys: list[str],
        answers: dict[str, Completion],
        chunk: list[int],
        out: list[Completion],
    ) -> None:
        self.cache.put_many(
            (keys[i], self.name, self.model, c) for i, c in zip(chunk, out, strict=True)
        )
        answers.update((keys[i], c) for i, c in zip(chunk, out, strict=True))

    @staticmethod
    def _in_order(keys: list[str], answers: dict[str, Completion]) -> list[Completion]:
        return [dataclasses.replace(answers[key]) for key in keys]  # copies: repeats stay apart

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        keys, answers, todo = self._lookup(requests)
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start : start + self.chunk_size]
            self._land(keys, answers, chunk, self.backend.generate([requests[i] for i in chunk]))
        return self._in_order(keys, answers)

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        keys, answers, todo = self._lookup(requests)
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start : start + self.chunk_size]
            out = await self.backend.agenerate([requests[i] for i in chunk])
            self._land(keys, answers, chunk, out)
        return self._in_order(keys, answers)

    def close(self) -> None:
        self.backend.close()
        self.cache.close()
