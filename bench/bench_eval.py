"""Evaluation throughput on the shipped eval set with the embedded model, three ways side by side:

1. llama.cpp in-process (`make_backend("llamacpp")`), batches handed to one engine;
2. llama.cpp's OpenAI-compatible server under concurrent load (`start_server(parallel=P)` and the
   `openai` backend with P requests in flight, spread over the P server processes);
3. transformers batched generation on the dequantised float32 copy.

Each engine is started and warmed up before its clock starts; the timed part is the whole
`run_eval` (prompting, generation, grading, writing predictions), with the response cache off so
every request reaches the engine. Figures: questions/s and generated tokens/s (wall clock), and
generated tokens per CPU-second (this process plus the server processes), each as a ratio to the
first row, llama.cpp in-process; accuracy is a sanity check that the engines did the same work.
On a shared machine the wall-clock figures also measure how much CPU the scheduler gave each
setup (P server processes get P shares); tokens per CPU-second does not.

    .venv/bin/python bench/bench_eval.py [--quick] [--max-tokens N] [--parallel P]
        [--threads N] [--engines inprocess,server,transformers]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sciinstruct.evaluate.runner import EvalConfig, run_eval
from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend
from sciinstruct.log import set_verbosity

BENCHMARK = "sciinstruct_eval"


def _cpu_seconds(pids: list[int]) -> float:
    """CPU time of this process (client, grading, in-process engines) plus the given server
    processes (Linux /proc). On a shared machine wall time measures the scheduler's share as
    much as the engine; CPU time per token does not."""
    own = os.times()
    total = own.user + own.system
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _measure(
    label: str, factory: Callable[[], Any], config: EvalConfig, pids: list[int] | None = None
) -> dict[str, Any]:
    backend = factory()
    warm = GenerationRequest([{"role": "user", "content": "Hi"}], SamplingParams(max_tokens=4))
    backend.generate([warm])  # load weights, fill caches: not part of the figure
    with tempfile.TemporaryDirectory() as out:
        cpu, start = _cpu_seconds(pids or []), time.perf_counter()
        results = run_eval([BENCHMARK], backend, out, config)
        seconds = time.perf_counter() - start
        cpu = _cpu_seconds(pids or []) - cpu
        rows = [json.loads(line) for line in (Path(out) / "predictions.jsonl").open()]
    backend.close()
    tokens = sum(r["usage"]["completion_tokens"] for r in rows)
    bench = results["benchmarks"][BENCHMARK]
    return {
        "engine": label,
        "questions": len(rows),
        "seconds": seconds,
        "questions_per_s": len(rows) / seconds,
        "tokens_per_s": tokens / seconds,
        "tokens_per_cpu_s": tokens / cpu if cpu else 0.0,
        "tokens": tokens,
        "errors": bench["generation_errors"],
        "accuracy": bench["accuracy"],
    }


def _llamacpp(threads: int | None) -> Any:
    return make_backend("llamacpp", n_ctx=2048, n_threads=threads)


def _client(urls: list[str], in_flight: int) -> Any:
    return make_backend("openai", "SmolLM2-135M-Instruct", base_url=urls, concurrency=in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 questions instead of the 84")
    parser.add_argument("--max-tokens", type=int, default=None, help="default 64 (quick) or 128")
    parser.add_argument(
        "--parallel",
        type=int,
        default=2,
        help="server processes and requests in flight (default 2: the cores here)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="llama.cpp threads in-process (default: the engine's own choice)",
    )
    parser.add_argument(
        "--engines",
        default="inprocess,server,transformers",
        help="comma-separated subset of inprocess, server, transformers",
    )
    args = parser.parse_args()
    set_verbosity(quiet=True)
    max_tokens = args.max_tokens or (64 if args.quick else 128)
    config = EvalConfig(
        limit=16 if args.quick else None, max_tokens=max_tokens, batch_size=args.batch_size
    )

    from sciinstruct.llm.serve import start_server

    engines = set(args.engines.split(","))
    runs = []
    if "inprocess" in engines:
        label = "llama.cpp in-process" + (f", {args.threads} threads" if args.threads else "")
        runs.append(_measure(label, lambda: _llamacpp(args.threads), config))
    if "server" in engines:
        # llama-cpp-python's server answers one request at a time: P processes, P in flight
        with start_server(parallel=args.parallel, n_ctx=2048) as server:
            label = f"llama.cpp server x{args.parallel}, {args.parallel} in flight"
            pids = [p.pid for p in server.processes]
            runs.append(
                _measure(label, lambda: _client(server.base_urls, args.parallel), config, pids)
            )
    if "transformers" in engines:
        label = f"transformers batched (batch {args.batch_size})"
        runs.append(
            _measure(
                label, lambda: make_backend("transformers", batch_size=args.batch_size), config
            )
        )
    base, base_cpu = runs[0]["questions_per_s"], runs[0]["tokens_per_cpu_s"]  # first row = 1x
    print(
        f"# bench_eval — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, {runs[0]['questions']} questions, "
        f"max_tokens={max_tokens}, greedy\n"
    )
    print(
        "| engine | questions/s | ratio | tokens/s | tokens per CPU-s | ratio | wall s "
        "| accuracy | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(
            f"| {r['engine']} | {r['questions_per_s']:.2f} | {r['questions_per_s'] / base:.2f}x "
            f"| {r['tokens_per_s']:.1f} | {r['tokens_per_cpu_s']:.1f} "
            f"| {r['tokens_per_cpu_s'] / base_cpu:.2f}x | {r['seconds']:.1f} "
            f"| {100 * (r['accuracy'] or 0):.1f}% | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
