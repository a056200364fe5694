"""Scratch SQLite files: where a stage keeps what it must look up or group across a whole run
(questions by id, candidates by fold, samples by question) instead of holding it in memory."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def scratch_db(directory: Path) -> Iterator[sqlite3.Connection]:
    """A throwaway SQLite file in a fresh folder under `directory`, removed on exit.

    Nothing in it needs to survive a crash, so there is no journal and no fsync.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".scratch-") as folder:
        db = sqlite3.connect(Path(folder) / "scratch.sqlite")
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
        try:
            yield db
        finally:
            db.close()
