"""What splitting and merging a sharded run cost, and that their memory does not grow with it.

For each size, a synthetic run of `n` questions is split into `--shards` shards; each shard is
then given two attempts per question (records shaped as annotate writes them) and a response
cache of the same rows, and `merge` runs. Split and merge each run in their own process,
measured by `wait4`: wall time, CPU time and peak RSS. Both stream, so peak RSS should stay
flat from the smallest size to the largest. Each stage reports its own peak (VmHWM), not
wait4's, which counts what this harness held when it forked the stage.

    PYTHONPATH=src .venv/bin/python bench/bench_shards.py                      # 50k and 200k
    PYTHONPATH=src .venv/bin/python bench/bench_shards.py --sizes 50000,500000 --shards 8
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The stage prints its own peak RSS, VmHWM: wait4's ru_maxrss would include the memory this
# harness had when it forked the child (Linux carries it across exec).
STAGE = """
import re, sys
from pathlib import Path
from sciinstruct.rundir import RunDir
from sciinstruct.shards import merge, split
run = RunDir(sys.argv[2])
split(run, int(sys.argv[3])) if sys.argv[1] == "split" else merge(run)
status = Path("/proc/self/status").read_text()
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024)
"""


def measured(args: list[str]) -> tuple[float, float, float]:
    """Wall s, CPU s (user + system) and peak RSS MiB of one stage process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", STAGE, *args], env=os.environ, stdout=subprocess.PIPE, text=True
    )
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[0]} failed")
    return wall, usage.ru_utime + usage.ru_stime, float(out.split()[-1])


def attempt(qid: str, index: int) -> dict[str, object]:
    prompt = f"What is {index} + {qid}? Think step by step."
    return {
        "id": f"{qid}-{index}", "question_id": qid, "stage": "cot", "parent_id": None,
        "model": "instant", "messages": [{"role": "user", "content": prompt}],
        "response": f"Step by step ... so the answer is \\boxed{{{index}}}", "extracted": str(index),
        "correct": index % 2 == 0, "grade_reason": "numeric match", "error": None,
        "usage": {"prompt_tokens": 40, "completion_tokens": 60, "latency_s": 0.01, "cached": False},
        "metadata": {"sample": index, "seed": index, "answer_type": "numeric"}, "created": 0.0,
    }  # fmt: skip


def fill_shards(root: Path, count: int) -> int:
    """Two attempts per question in every shard, and a cache row per attempt."""
    from sciinstruct.llm.cache import ResponseCache
    from sciinstruct.rundir import RunDir

    total = 0
    for index in range(count):
        shard = RunDir(root).shard(index, count)
        with open(shard.questions, encoding="utf-8") as fh, open(shard.attempts, "w") as out:
            ids = [json.loads(line)["id"] for line in fh]
            for qid in ids:
                for sample in range(2):
                    out.write(json.dumps(attempt(qid, sample)) + "\n")
                    total += 1
        ResponseCache(shard.cache).close()
        rows = (
            (f"{qid}-{sample}", "openai", "instant", "text", "stop", 40, 60, 0.01, 0.0, 1)
            for qid in ids
            for sample in range(2)
        )
        with sqlite3.connect(shard.cache) as db:
            db.executemany("INSERT INTO responses VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,200000", help="Questions per run, by commas.")
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()
    print("| questions | attempts | shards | split s | split MiB | merge s | merge CPU s | merge MiB | merge attempts/s |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-shards-") as tmp:
            run = Path(tmp) / "run"
            run.mkdir()
            with open(run / "questions.jsonl", "w", encoding="utf-8") as fh:
                for i in range(n):
                    row = {"id": f"q{i:08d}", "question": f"What is {i} + 1?", "answer": str(i + 1)}
                    fh.write(json.dumps(row) + "\n")
            split_wall, _, split_rss = measured(["split", str(run), str(args.shards)])
            attempts = fill_shards(run, args.shards)
            wall, cpu, rss = measured(["merge", str(run)])
            merged = (run / "attempts.jsonl").read_bytes().count(b"\n")
            assert merged == attempts, (merged, attempts)
            print(
                f"| {n:,} | {attempts:,} | {args.shards} | {split_wall:.1f} | {split_rss:.0f} | "
                f"{wall:.1f} | {cpu:.1f} | {rss:.0f} | {attempts / wall:,.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
