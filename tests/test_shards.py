"""A run split into shards and merged equals the unsharded run; a killed shard resumes alone.

Equality, precisely: the same attempt records with the timing fields (`shards.TIMING_FIELDS`:
latency, whether the cache answered) left out, in any order; the same requests asked of the
model; the same response-cache keys; the same `annotate` counts in stats.json (`wall_s`
excepted); and the same rows in the files downstream (`filter`, `curate`, `export`), whose
order follows the attempts file's, as it does between two unsharded runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate
from sciinstruct.cli.main import main
from sciinstruct.errors import InputError
from sciinstruct.jsonl import read_jsonl, write_jsonl
from sciinstruct.llm.cache import ResponseCache
from sciinstruct.records import Question
from sciinstruct.rundir import RunDir
from sciinstruct.runlock import RunLockedError
from sciinstruct.shards import (
    TIMING_FIELDS,
    ShardJob,
    annotate_shard,
    annotate_shards,
    merge,
    shard_of,
    shard_runs,
    split,
)
from scripted import ScriptedBackend

CONFIG = AnnotateConfig(plan=StagePlan(samples=2, max_tokens=32), batch_size=2, concurrency=3)
QUESTIONS = [
    Question(id=f"q{i:02d}", question=f"What is {i} + {i + 1}?", answer=str(2 * i + 1), subject="math")
    for i in range(30)
]  # fmt: skip


def answer(prompt: str, _seed: int | None = None) -> str:
    """Right at cot when the sum is divisible by 3, at reflect when it leaves 1, else only hinted:
    every stage of the loop has work, so the shards' stages must line up too."""
    real = re.search(r"Real answer: (\d+)", prompt)
    a, b = map(int, re.search(r"What is (\d+) \+ (\d+)", prompt).groups())
    right = real is not None or (a + b) % 3 == (1 if "Incorrect solution:" in prompt else 0)
    value = int(real.group(1)) if real else a + b if right else a + b + 1
    return f"Adding: {a} + {b} = {value}. The answer is \\boxed{{{value}}}"


def backend(delay: float = 0.0) -> ScriptedBackend:
    return ScriptedBackend(answer, "adder-1", name="adder", completion_tokens=7, delay=delay)


def comparable(row: dict[str, Any]) -> str:
    row = copy.deepcopy(row)
    for path in TIMING_FIELDS:
        *parents, key = path.split(".")
        holder = row
        for name in parents:
            holder = holder[name]
        holder.pop(key)
    return json.dumps(row, sort_keys=True)


def attempt_set(run: RunDir) -> list[str]:
    return sorted(comparable(r) for r in read_jsonl(run.attempts))


def cache_keys(run: RunDir) -> set[str]:
    with sqlite3.connect(run.cache) as db:
        return {key for (key,) in db.execute("SELECT key FROM responses")}


def counts(run: RunDir) -> dict[str, Any]:
    stats = run.read_stats()["annotate"]
    stats.pop("wall_s")
    for stage in stats["stages"].values():
        stage.pop("wall_s")
    return stats


def new_run(root: Path) -> RunDir:
    run = RunDir(root).ensure()
    write_jsonl(run.questions, QUESTIONS)
    return run


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, ScriptedBackend]:
    model = backend()
    run = new_run(tmp_path_factory.mktemp("single") / "run")
    run_annotate(run, model, CONFIG)
    return run, model


def downstream(run: RunDir) -> dict[str, list[bytes]]:
    """filter, curate and export's files, each as its sorted lines: their rows follow the
    attempts file's order, which an unsharded run's scheduler does not fix either."""
    assert main(["--quiet", "filter", str(run.root)]) == 0
    assert main(["--quiet", "curate", str(run.root)]) == 0
    assert main(["--quiet", "export", str(run.root), "--no-parquet"]) == 0
    files = [run.filtered, run.samples, *sorted(run.export_dir.glob("*.jsonl"))]
    return {str(p.relative_to(run.root)): sorted(p.read_bytes().splitlines()) for p in files}


def snapshot(run: RunDir) -> dict[str, str]:
    """Every file of the run's root (not its shards), by content; the cache by its rows."""
    out = {}
    for path in sorted(p for p in run.root.iterdir() if p.is_file()):
        if path.name.startswith("cache.sqlite"):
            continue
        out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    with sqlite3.connect(run.cache) as db:
        out["cache rows"] = repr(sorted(db.execute("SELECT * FROM responses")))
    return out


def test_two_shards_merged_equal_the_unsharded_run(single, tmp_path: Path) -> None:
    reference, reference_model = single
    model = backend()
    run = new_run(tmp_path / "run")
    result = annotate_shards(run, 2, lambda: model, CONFIG, close_engine=False)

    assert [s.root.name for s in shard_runs(run)] == ["001-of-002", "002-of-002"]
    assert sum(result.per_shard) == result.attempts == len(list(read_jsonl(reference.attempts)))
    assert min(result.per_shard) > 0 and result.unfinished == [] and result.skipped_lines == 0
    assert attempt_set(run) == attempt_set(reference)
    assert sorted(model.keys) == sorted(reference_model.keys)  # the same requests, each once
    assert cache_keys(run) == cache_keys(reference)
    assert counts(run) == counts(reference)
    assert run.read_config()["annotate"] == reference.read_config()["annotate"]
    assert downstream(run) == downstream(reference)

    before = snapshot(run)
    again = merge(run)  # idempotent: a second merge changes no file
    assert again.per_shard == result.per_shard
    assert snapshot(run) == before


def test_the_partition_is_a_stable_hash_of_the_question_id(tmp_path: Path) -> None:
    # Pinned: a different partition would move questions between an existing run's shards.
    assert [shard_of(f"q{i:02d}", 4) for i in range(8)] == [
        shard_of(f"q{i:02d}", 4) for i in range(8)
    ]
    assert shard_of("q00", 8) == int(hashlib.sha256(b"q00").hexdigest()[:16], 16) % 8
    run = new_run(tmp_path / "run")
    shards = split(run, 3)
    held = [[r["id"] for r in read_jsonl(s.questions)] for s in shards]
    assert sorted(i for ids in held for i in ids) == [q.id for q in QUESTIONS]
    assert all(shard_of(i, 3) == n for n, ids in enumerate(held) for i in ids)
    # new questions join their shards; the old ones stay where they were
    extra = Question(id="q99", question="What is 99 + 100?", answer="199")
    write_jsonl(run.questions, [*QUESTIONS, extra])
    again = split(run, 3)
    assert [r["id"] for r in read_jsonl(again[shard_of("q99", 3)].questions)][-1] == "q99"
    with pytest.raises(InputError, match="split into 3 shards already"):
        split(run, 4)


def test_questions_added_later_join_their_shard_and_are_annotated_there(tmp_path: Path) -> None:
    run = new_run(tmp_path / "run")
    model = backend()
    annotate_shards(run, 2, lambda: model, CONFIG, close_engine=False)
    extra = Question(id="q99", question="What is 99 + 100?", answer="199", subject="math")
    write_jsonl(run.questions, [*QUESTIONS, extra])
    home = split(run, 2)[shard_of("q99", 2)]
    assert merge(run).unfinished == [home.root.name]  # its stats count one question fewer
    calls = len(model.keys)
    result = annotate_shards(run, 2, lambda: model, CONFIG, close_engine=False)
    assert result.unfinished == []
    # only the new question was asked: 2 cot samples (199 leaves 1 by 3: wrong), 1 reflect
    assert len(model.keys) - calls == 3
    assert {a["question_id"] for a in read_jsonl(run.attempts)} == {
        q.id for q in [*QUESTIONS, extra]
    }


def test_merge_refuses_while_a_shard_is_being_annotated(tmp_path: Path) -> None:
    run = new_run(tmp_path / "run")
    first, _second = split(run, 2)
    code = (
        f"import sys, time; sys.path.insert(0, {str(Path(__file__).parents[1] / 'src')!r})\n"
        f"from sciinstruct.rundir import RunDir\nRunDir({str(first.root)!r}).lock('annotate')\n"
        "print('locked', flush=True); time.sleep(600)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"001-of-002: .*locked by pid {proc.pid}"):
            merge(run)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_a_killed_shard_resumes_alone(single, tmp_path: Path) -> None:
    reference, _ = single
    run = new_run(tmp_path / "run")
    first, second = split(run, 2)
    annotate_shard(ShardJob(str(first.root), backend, CONFIG))
    first_files = _files(first)
    expected = len([q for q in QUESTIONS if shard_of(q.id, 2) == 1])

    proc = subprocess.Popen(
        [sys.executable, __file__, str(second.root)],
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 120
    while _lines(second.attempts) < expected // 2 and proc.poll() is None:
        assert time.monotonic() < deadline, "the shard's driver made no progress"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert second.lock_holder().pid == proc.pid  # type: ignore[union-attr]

    partial = merge(run)  # a merge of unfinished shards is allowed, and redone later
    assert partial.unfinished == ["002-of-002"]
    resumed = backend()
    annotate_shard(ShardJob(str(second.root), lambda: resumed, CONFIG))
    assert _files(first) == first_files  # the other shard untouched
    assert ResponseCache(second.cache).repeated() == 0  # no call of the killed driver repeated
    merged = merge(run)
    assert merged.unfinished == []
    assert attempt_set(run) == attempt_set(reference)
    assert counts(run)["solved_total"] == len(QUESTIONS)


def test_the_shards_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = new_run(tmp_path / "run")
    assert main(["shards", "split", "--run", str(run.root), "--shards", "2"]) == 0
    assert main(["shards", "status", "--run", str(run.root)]) == 0
    out = capsys.readouterr().out
    assert "001-of-002" in out and "002-of-002" in out
    assert main(["shards", "merge", "--run", str(run.root)]) == 0
    assert "not finished yet: 001-of-002, 002-of-002" in capsys.readouterr().out
    assert main(["shards", "merge", "--run", str(tmp_path / "none")]) == 2


@pytest.fixture(scope="module")
def stub_server() -> Any:
    """An OpenAI-compatible server on loopback answering as `answer` does."""
    from fault_server import run_fault_server

    with run_fault_server(
        answer=lambda request: answer(request["messages"][-1]["content"])
    ) as server:
        yield server


def _engine(server: Any) -> list[str]:
    """annotate's options for both runs: every shard's annotate gets them as they are."""
    url = server.url("ok", 0, "shards-cli")
    return ["-b", "openai", "-m", "stub", "-k", "2", "--max-tokens", "32", "--base-url", url]


@pytest.fixture(scope="module")
def single_cli(stub_server: Any, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    run = new_run(tmp_path_factory.mktemp("single-cli") / "run")
    assert main(["--quiet", "annotate", "--run", str(run.root), *_engine(stub_server)]) == 0
    return run


def test_shards_annotate_runs_annotate_on_every_shard_and_merges(
    stub_server: Any, single_cli: RunDir, tmp_path: Path
) -> None:
    run = new_run(tmp_path / "run")
    args = ["--quiet", "shards", "annotate", "--run", str(run.root), "--shards", "3"]
    assert main([*args, *_engine(stub_server)]) == 0
    assert attempt_set(run) == attempt_set(single_cli)
    assert counts(run) == counts(single_cli)
    assert run.read_config()["annotate"] == single_cli.read_config()["annotate"]
    drivers = run.read_stats()["shards"]["drivers"]
    assert [d["pid"] for d in drivers] == [os.getpid()] * 3  # here, one after another


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--no-such-flag"], "No such option: --no-such-flag"),
        (["-b", "gpt"], "backend"),
        (["questions.jsonl"], "ingest them into the run first"),
    ],
)
def test_shards_annotate_refuses_a_bad_option_before_any_shard_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    run = new_run(tmp_path / "run")
    assert main(["shards", "annotate", "--run", str(run.root), "-n", "2", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not list(run.shards_dir.glob("*/attempts.jsonl"))


def test_shards_run_as_ray_tasks_and_merge_into_the_unsharded_run(
    stub_server: Any, single_cli: RunDir, tmp_path: Path
) -> None:
    """`--executor ray --shards 2`: each shard a Ray task running annotate with its own engine
    (here an HTTP client of the server on loopback) and its own lock, on a local cluster."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'sciinstruct[ray]')")
    run = new_run(tmp_path / "run")
    args = ["--quiet", "shards", "annotate", "--run", str(run.root), "--shards", "2"]
    assert main([*args, "--executor", "ray", *_engine(stub_server)]) == 0
    assert [s.lock_holder() for s in shard_runs(run)] == [None, None]  # each task let go
    assert all(s.read_stats()["annotate"]["questions"] > 0 for s in shard_runs(run))
    drivers = run.read_stats()["shards"]["drivers"]
    assert len(drivers) == 2 and all(d["pid"] != os.getpid() for d in drivers)  # Ray workers
    assert attempt_set(run) == attempt_set(single_cli)
    assert counts(run) == counts(single_cli)
    assert run.read_config()["annotate"] == single_cli.read_config()["annotate"]


def _files(run: RunDir) -> dict[str, bytes]:
    """The run's files but the cache's (a merge reading it touches its WAL index)."""
    paths = [p for p in run.root.iterdir() if p.is_file() and not p.name.startswith("cache.")]
    return {p.name: p.read_bytes() for p in paths}


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


if __name__ == "__main__":
    # The shard's driver the test kills: slow enough that the kill lands in the middle.
    annotate_shard(ShardJob(sys.argv[1], lambda: backend(delay=0.03), CONFIG))
