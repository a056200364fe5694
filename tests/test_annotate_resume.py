"""Resume after `kill -9`: nothing lost, nothing duplicated, no LLM call for finished work.

The test starts this file as a script (an annotate run against a slow scripted model), kills it
with SIGKILL in the middle, then finishes the run in-process and compares it with a run that
was never interrupted. The model finishes a batch's requests one at a time, as llama.cpp does,
so a kill can land in the middle of a batch.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.llm.cache import ResponseCache
from sciinstruct.records import Question
from sciinstruct.rundir import RunDir
from scripted import ScriptedBackend

CONFIG = AnnotateConfig(plan=StagePlan(samples=2, max_tokens=32), batch_size=2, concurrency=3)
# One batch of 16 at a time: what the embedded backend runs by default.
BIG_BATCH = AnnotateConfig(plan=StagePlan(samples=2, max_tokens=32), batch_size=16, concurrency=1)
CONFIGS = {"small": CONFIG, "big": BIG_BATCH}
QUESTIONS = [
    Question(id=f"q{i:02d}", question=f"What is {i} + {i + 1}?", answer=str(2 * i + 1))
    for i in range(30)
]


def answer(prompt: str, _seed: int | None = None) -> str:
    """Right at cot when the sum is divisible by 3, at reflect when it leaves 1, otherwise only
    hinted (which copies the real answer)."""
    real = re.search(r"Real answer: (\d+)", prompt)
    a, b = map(int, re.search(r"What is (\d+) \+ (\d+)", prompt).groups())
    stage_remainder = 1 if "Incorrect solution:" in prompt else 0
    right = real is not None or (a + b) % 3 == stage_remainder
    value = int(real.group(1)) if real else a + b if right else a + b + 1
    return f"{a} + {b}, so \\boxed{{{value}}}"


def slow_backend(delay: float = 0.0) -> ScriptedBackend:
    """The shared scripted backend, `delay` seconds per request, one request after another."""
    return ScriptedBackend(answer, "slow-1", name="slow", completion_tokens=8, delay=delay)


def start_run(run: Path, config: str = "small") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, __file__, str(run), config],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_9_then_resume_loses_nothing_and_repeats_no_call(tmp_path):
    reference = RunDir(tmp_path / "reference")
    clean = slow_backend()
    run_annotate(reference, clean, CONFIG, questions=QUESTIONS)
    expected = {r["id"]: r["response"] for r in read_jsonl(reference.attempts)}
    assert len(expected) == len(clean.keys)  # one request per attempt, no retries

    run = RunDir(tmp_path / "killed").ensure()
    write_jsonl(run.questions, QUESTIONS)
    proc = start_run(run.root)
    deadline = time.monotonic() + 120
    while count_lines(run.attempts) < len(expected) // 3 and proc.poll() is None:
        assert time.monotonic() < deadline, "the annotate subprocess made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]

    with sqlite3.connect(run.cache) as db:
        cached_at_kill = {key for (key,) in db.execute("SELECT key FROM responses")}
    written_at_kill = run.attempts.read_bytes()
    assert 0 < len(cached_at_kill) < len(expected)

    resumed = slow_backend()
    run_annotate(run, resumed, CONFIG)

    rows = list(read_jsonl(run.attempts))
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "an attempt was written twice"
    assert {r["id"]: r["response"] for r in rows} == expected
    # Every request finished before the kill came from the cache; the rest was asked once.
    assert not set(resumed.keys) & cached_at_kill
    assert len(resumed.keys) == len(expected) - len(cached_at_kill)
    # What was on disk before the kill is still there, untouched (a cut-off line is healed).
    complete = written_at_kill[: written_at_kill.rfind(b"\n") + 1]
    assert run.attempts.read_bytes().startswith(complete)
    assert run.read_stats()["annotate"]["solved_total"] == len(QUESTIONS)


def cached_keys(run: RunDir) -> set[str]:
    with sqlite3.connect(run.cache) as db:
        return {key for (key,) in db.execute("SELECT key FROM responses")}


def test_kill_9_in_the_middle_of_a_batch_keeps_its_finished_completions(tmp_path):
    reference = RunDir(tmp_path / "reference")
    clean = slow_backend()
    run_annotate(reference, clean, BIG_BATCH, questions=QUESTIONS)
    expected = {r["id"]: r["response"] for r in read_jsonl(reference.attempts)}

    run = RunDir(tmp_path / "killed").ensure()
    write_jsonl(run.questions, QUESTIONS)
    proc = start_run(run.root, "big")
    deadline = time.monotonic() + 120
    # 5 of the first batch's 16 completions are done, and the batch has not returned
    while proc.poll() is None and not (run.cache.exists() and len(ResponseCache(run.cache)) >= 5):
        assert time.monotonic() < deadline, "the annotate subprocess made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    cached_at_kill = cached_keys(run)
    assert count_lines(run.attempts) == 0, "the kill was meant to land inside the first batch"
    assert 5 <= len(cached_at_kill) < 16

    resumed = slow_backend()
    run_annotate(run, resumed, BIG_BATCH)
    rows = list(read_jsonl(run.attempts))
    assert sorted(r["id"] for r in rows) == sorted(expected)
    assert {r["id"]: r["response"] for r in rows} == expected
    # the completions the killed batch had finished were not asked for again
    assert not set(resumed.keys) & cached_at_kill
    assert len(resumed.keys) == len(expected) - len(cached_at_kill)
    assert ResponseCache(run.cache).repeated() == 0
    assert sum(r["usage"]["cached"] for r in rows) == len(cached_at_kill)


if __name__ == "__main__":
    # The run the test kills: slow enough that the kill lands in the middle of it.
    run_annotate(RunDir(sys.argv[1]), slow_backend(delay=0.03), CONFIGS[sys.argv[2]])
