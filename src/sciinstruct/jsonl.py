"""Append-only, crash-safe JSON Lines.

A writer appends whole lines and flushes them; a kill mid-write can leave at most one partial
last line. A reader skips such a line and reports it (it is never silently dropped), and the next
append starts on a fresh line so the partial bytes never merge with new data.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sciinstruct.errors import InputError
from sciinstruct.log import logger


@dataclass(frozen=True)
class BadLine:
    """A line that could not be read: where it is and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def _encode(record: BaseModel | dict[str, Any]) -> str:
    data = record.model_dump(mode="json") if isinstance(record, BaseModel) else record
    # ensure_ascii=False keeps non-Latin text readable; separators keep files compact.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class JsonlWriter:
    """Appends records to a JSONL file; safe to share between threads of one process.

    Each record is written as one `write()` of a complete line followed by a flush, and `fsync`
    when `durable=True`; O_APPEND makes concurrent appends from several processes land whole.
    """

    def __init__(self, path: str | Path, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self._lock = threading.Lock()
        self._heal_partial_tail()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def _heal_partial_tail(self) -> None:
        # If the last write was cut off, the file does not end in "\n". Terminate that fragment
        # so it stays one (skipped, reported) bad line instead of corrupting the next record.
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")

    def write(self, record: BaseModel | dict[str, Any]) -> None:
        line = _encode(record) + "\n"
        with self._lock:
            self._fh.write(line)
            self._fh.flush()
            if self.durable:
                os.fsync(self._fh.fileno())

    def write_many(self, records: Iterable[BaseModel | dict[str, Any]]) -> int:
        count = 0
        with self._lock:
            for record in records:
                self._fh.write(_encode(record) + "\n")
                count += 1
            self._fh.flush()
            if self.durable:
                os.fsync(self._fh.fileno())
        return count

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scan_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None, str]]:
    """`(line, object, why_not, raw_text)` for each non-blank line; `object` is None (and
    `why_not` says why) for a line that is not a JSON object. The package's one JSONL parser."""
    path = Path(path)
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                why = f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                yield number, None, why, raw.decode("utf-8", "replace").rstrip("\n")
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                truncated = not raw.endswith(b"\n")  # a kill mid-write leaves no newline
                why = "truncated last line" if truncated else f"invalid JSON ({exc.msg})"
                yield number, None, why, text.rstrip("\n")
                continue
            if not isinstance(value, dict):
                why = f"expected a JSON object, got {type(value).__name__}"
                yield number, None, why, text.rstrip("\n")
                continue
            yield number, value, None, text.rstrip("\n")


def read_jsonl(
    path: str | Path, bad: list[BadLine] | None = None, *, strict: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield each JSON object of a file. A line that does not parse is never dropped silently:
    it goes to `bad` when a list is given, else it is an InputError with file and line when
    `strict` (user files: a benchmark, a label file), else it is logged as a warning and skipped
    (the run's own append-only files, whose last line a kill may have cut).

    Blank lines are skipped. A missing file yields nothing: a stage that has not run yet has
    simply produced no records.
    """
    path = Path(path)
    if not path.exists():
        return
    for number, value, why, _ in scan_jsonl(path):
        if value is not None:
            yield value
        elif bad is not None:
            bad.append(BadLine(str(path), number, why or "unreadable"))
        elif strict:
            raise InputError(why or "unreadable line", file=str(path), line=number)
        else:
            logger.warning("skipped %s", BadLine(str(path), number, why or "unreadable"))


def write_jsonl(path: str | Path, records: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Write a whole file atomically (temp file + rename): for outputs that are rebuilt, not appended."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(_encode(record) + "\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return count
