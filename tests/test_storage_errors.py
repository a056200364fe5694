"""A full disk mid-run: one clear line, no partial record, and the same command resumes.

A full disk is simulated without root by a file size limit (RLIMIT_FSIZE) in a child process:
past it a write fails with EFBIG, as it fails with ENOSPC on a full disk (SIGXFSZ, which would
kill the process instead, is ignored, as a shell does with `ulimit -f` under `trap '' XFSZ`).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from sciinstruct.errors import storage_error
from sciinstruct.jsonl import read_jsonl

ROWS = [
    {"question": f"What is {i} squared? " + "pad " * 40, "answer": str(i * i)} for i in range(300)
]


def _limited(limit_bytes: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


def _ingest(source: Path, run: Path, limit: int | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sciinstruct.cli.main", "ingest", str(source), "--run", str(run)],
        capture_output=True, text=True, timeout=120,
        preexec_fn=_limited(limit) if limit else None,
    )  # fmt: skip


def test_ingest_on_a_full_disk_says_so_in_one_line_and_resumes(tmp_path: Path):
    source = tmp_path / "q.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    run = tmp_path / "run"
    full = _ingest(source, run, limit=20_000)  # room for about a third of the questions
    assert full.returncode == 1, full.stderr
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1, full.stderr
    assert lines[0].startswith(f"error: cannot write {run / 'questions.jsonl'}: file size limit")
    assert lines[0].endswith("run the same command to resume")
    written = (run / "questions.jsonl").read_bytes()
    assert written.endswith(b"\n") and 0 < len(written) <= 20_000  # whole lines only
    kept = len(written.splitlines())

    again = _ingest(source, run, limit=None)  # space is back
    assert again.returncode == 0, again.stderr
    assert f"ingested {len(ROWS) - kept} question(s)" in again.stdout.replace("\n", " ")
    questions = list(read_jsonl(run / "questions.jsonl"))
    assert [q["answer"] for q in questions] == [r["answer"] for r in ROWS]


def test_storage_errors_are_told_apart_from_other_errors():
    import errno
    import sqlite3

    full = storage_error(OSError(errno.ENOSPC, "No space left on device", "/r/attempts.jsonl"))
    assert str(full).startswith("cannot write /r/attempts.jsonl: no space left on the device;")
    readonly = storage_error(sqlite3.OperationalError("attempt to write a readonly database"))
    assert str(readonly).startswith("cannot write the response cache: attempt to write a readonly")
    assert storage_error(OSError(errno.ECONNREFUSED, "refused")) is None
    assert storage_error(ValueError("no")) is None
    assert os.linesep not in str(full)
