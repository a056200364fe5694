"""Append-only, crash-safe JSON Lines.

A writer appends whole lines and flushes them; a kill mid-write can leave at most one partial
last line, and a write that fails (disk full, file size limit) is rolled back to the last whole
line before the error is raised. A reader skips such a line and reports it (it is never silently dropped), and the next
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
    if isinstance(record, BaseModel):
        # pydantic's own serializer writes the same compact UTF-8 JSON as the line below, at
        # a tenth of the cost (~7 vs ~90 us an attempt): the driver writes every attempt.
        return record.model_dump_json()
    # ensure_ascii=False keeps non-Latin text readable; separators keep files compact.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


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
        # Unbuffered bytes: what a write call reports written is in the file, so a failed write
        # can be cut back exactly (a text buffer would retry the rest on close).
        self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed by close()

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
        self.write_many([record])

    def write_many(self, records: Iterable[BaseModel | dict[str, Any]]) -> int:
        lines = [_encode(record) + "\n" for record in records]
        with self._lock:
            self._append("".join(lines).encode("utf-8"))
            if self.durable:
                os.fsync(self._fh.fileno())
        return len(lines)

    def _append(self, data: bytes) -> None:
        fd = self._fh.fileno()
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[self._fh.write(view) :]
        except OSError as exc:
            # Disk full or file too large: cut back to the last whole line so the file holds no
            # partial record; truncating frees space, so it works on a full disk. (Another
            # process appending in this instant would lose its line; runs have one writer.)
            os.ftruncate(fd, start)
            if exc.filename is None:  # a write on a descriptor does not name its file
                raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
            raise

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
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM is an encoding mark, not data
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
            except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
                yield number, None, f"unreadable JSON value ({exc})", text.rstrip("\n")
                continue
            except RecursionError:  # `[[[[...` nested deeper than the parser recurses
                yield number, None, "JSON nested too deeply to read", text.rstrip("\n")
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
