"""Append-only JSONL: whole lines, partial tails skipped and reported, a real kill mid-write."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sciinstruct.errors import InputError
from sciinstruct.jsonl import BadLine, JsonlWriter, read_jsonl, write_jsonl
from sciinstruct.records import Question


def test_write_and_read_back_records(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    with JsonlWriter(path) as writer:
        writer.write(Question(question="What is 2+2?", answer="4"))
        writer.write({"question": "Ünïcode ∫", "answer": "ok"})
    rows = list(read_jsonl(path))
    assert [r["question"] for r in rows] == ["What is 2+2?", "Ünïcode ∫"]
    assert rows[0]["id"] == Question(question="What is 2+2?", answer="4").id


def test_partial_last_line_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"x": 1}\n{"x": 2}\n{"x": 3, "y": "cut')
    bad: list[BadLine] = []
    assert [r["x"] for r in read_jsonl(path, bad)] == [1, 2]
    assert bad == [BadLine(str(path), 3, "truncated last line")]


def test_append_after_partial_line_starts_a_fresh_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"x": 1}\n{"x": 2, "y"')
    with JsonlWriter(path) as writer:
        writer.write({"x": 3})
    bad: list[BadLine] = []
    assert [r["x"] for r in read_jsonl(path, bad)] == [1, 3]
    assert len(bad) == 1 and bad[0].line == 2 and "invalid JSON" in bad[0].reason


def test_non_utf8_and_non_object_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"x": 1}\n\xff\xfe\n[1, 2]\n\n{"x": 2}\n')
    bad: list[BadLine] = []
    assert [r["x"] for r in read_jsonl(path, bad)] == [1, 2]
    assert [(b.line, b.reason.split(" ")[0]) for b in bad] == [(2, "not"), (3, "expected")]


def test_concurrent_threads_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    writer = JsonlWriter(path)
    payload = "z" * 5000  # longer than a pipe buffer chunk, to catch torn writes

    def work(t: int) -> None:
        for i in range(200):
            writer.write({"t": t, "i": i, "p": payload})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    bad: list[BadLine] = []
    rows = list(read_jsonl(path, bad))
    assert bad == []
    assert sorted((r["t"], r["i"]) for r in rows) == [(t, i) for t in range(4) for i in range(200)]


def test_kill_mid_write_loses_at_most_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    script = (
        "import sys\n"
        "from sciinstruct.jsonl import JsonlWriter\n"
        "w = JsonlWriter(sys.argv[1])\n"
        "i = 0\n"
        "while True:\n"
        "    w.write({'i': i, 'pad': 'x' * 20000}); i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)])
    deadline = time.time() + 60
    while time.time() < deadline and (not path.exists() or path.stat().st_size < 2_000_000):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    bad: list[BadLine] = []
    rows = list(read_jsonl(path, bad))
    assert len(rows) > 50
    assert [r["i"] for r in rows] == list(range(len(rows)))  # nothing lost before the cut
    assert len(bad) <= 1
    # and the next writer continues cleanly after the cut
    with JsonlWriter(path) as writer:
        writer.write({"i": "after"})
    assert list(read_jsonl(path, bad))[-1] == {"i": "after"}


def test_bad_lines_are_refused_or_reported_never_dropped_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"x": 1}\n{"x": \n{"x": 3}\n')
    with pytest.raises(InputError, match=r"a\.jsonl:2: invalid JSON"):
        list(read_jsonl(path, strict=True))
    with caplog.at_level(logging.WARNING, logger="sciinstruct"):
        assert [r["x"] for r in read_jsonl(path)] == [1, 3]
    assert "a.jsonl:2: invalid JSON" in caplog.text


def test_write_jsonl_is_atomic_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert write_jsonl(path, [{"a": 1}, {"a": 2}]) == 2
    assert write_jsonl(path, [{"a": 3}]) == 1
    assert list(read_jsonl(path)) == [{"a": 3}]
    assert not (tmp_path / "out.jsonl.tmp").exists()
