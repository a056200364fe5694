"""Annotation throughput against llama.cpp's server, and the cost of re-running a finished run.

1. Pipeline vs plain load generator. `sciinstruct annotate` (all three stages, the `openai`
   backend) runs N questions against the embedded model served by llama.cpp's server. Then a
   plain load generator (httpx + asyncio, no cache, no grading, no files) replays exactly the
   requests the pipeline made (same prompts, same seeds) at the same concurrency. The figure is
   the pipeline's completion tokens/s as a fraction of the load generator's (goal: >= 90%).
2. Re-run from the cache. A scripted backend fills a run of 10,000 questions (2 cot samples, some
   questions going on to reflect and hinted); we then time (a) the re-run of the finished run and
   (b) the re-run after deleting attempts.jsonl, where every attempt is rebuilt from cache.sqlite
   and graded again (goal for (a): under 10 s). Neither makes an LLM call; the bench checks it.

    .venv/bin/python bench/bench_annotate.py [--quick] [--questions 200] [--rerun-questions 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import re
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate
from sciinstruct.jsonl import read_jsonl
from sciinstruct.llm import make_backend
from sciinstruct.llm.base import Completion, GenerationRequest
from sciinstruct.records import Question
from sciinstruct.rundir import RunDir


def arithmetic_questions(n: int) -> list[Question]:
    """Small, distinct, verifiable questions: a*b + c."""
    return [
        Question(
            id=f"b{i:05d}",
            question=f"What is {7 + i % 13} times {3 + i % 11} plus {i}?",
            answer=str((7 + i % 13) * (3 + i % 11) + i),
            subject="math",
        )
        for i in range(n)
    ]


# -- 1. pipeline vs load generator ------------------------------------------------------------


async def replay(base_urls: list[str], payloads: list[dict], concurrency: int) -> tuple[int, float]:
    """Send `payloads` with `concurrency` in flight; (completion tokens, wall seconds)."""
    queue = iter(enumerate(payloads))
    tokens = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal tokens
        for i, payload in queue:
            url = base_urls[i % len(base_urls)] + "/chat/completions"
            response = await client.post(url, json=payload)
            response.raise_for_status()
            tokens += response.json()["usage"]["completion_tokens"]

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=600) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return tokens, time.perf_counter() - start


def throughput(n: int, max_tokens: int, concurrency: int, parallel: int) -> dict[str, float]:
    from sciinstruct.llm.serve import start_server

    with start_server(parallel=parallel, n_threads=1) as server:
        backend = make_backend("openai", base_url=server.joined_urls, concurrency=concurrency)
        warm = [{"role": "user", "content": "Say hi."}]
        for url in server.base_urls:  # first request loads weights into the page cache
            httpx.post(
                url + "/chat/completions", json={"messages": warm, "max_tokens": 4}, timeout=600
            )
        run = RunDir(tempfile.mkdtemp(prefix="bench-annotate-"))
        config = AnnotateConfig(
            plan=StagePlan(samples=1, max_tokens=max_tokens, temperature=0.7),
            batch_size=1,
            concurrency=concurrency,
        )
        start = time.perf_counter()
        funnel = run_annotate(run, backend, config, questions=arithmetic_questions(n))
        pipeline_s = time.perf_counter() - start
        attempts = list(read_jsonl(run.attempts))
        pipeline_tokens = sum(a["usage"]["completion_tokens"] for a in attempts)
        payloads = [
            {
                "model": backend.model,
                "messages": a["messages"],
                "temperature": 0.7,
                "top_p": 0.95,
                "max_tokens": max_tokens,
                "seed": a["metadata"]["seed"],
            }
            for a in attempts
        ]
        load_tokens, load_s = asyncio.run(replay(server.base_urls, payloads, concurrency))
    pipeline_rate, load_rate = pipeline_tokens / pipeline_s, load_tokens / load_s
    return {
        "questions": n,
        "requests": len(attempts),
        "solved": funnel.solved,
        "pipeline_tokens": pipeline_tokens,
        "pipeline_s": pipeline_s,
        "pipeline_tok_s": pipeline_rate,
        "load_tokens": load_tokens,
        "load_s": load_s,
        "load_tok_s": load_rate,
        "ratio": pipeline_rate / load_rate,
    }


# -- 2. re-run of a finished run from the cache -----------------------------------------------


class ScriptedBackend:
    """Instant answers: right at cot for 1 question in 2, at reflect for 1 in 4, else hinted."""

    name = "scripted"
    model = "scripted-bench"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        self.calls += len(requests)
        return [self._answer(r.messages[-1]["content"]) for r in requests]

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        return self.generate(requests)

    def close(self) -> None:
        pass

    @staticmethod
    def _answer(prompt: str) -> Completion:
        real = re.search(r"Real answer: (\d+)", prompt)
        a, b, c = map(int, re.search(r"What is (\d+) times (\d+) plus (\d+)", prompt).groups())
        right = a * b + c
        stage_ok = (c % 4 in (0, 1)) if "Incorrect solution:" not in prompt else c % 4 == 2
        value = int(real[1]) if real else right if stage_ok else right + 1
        text = f"{a} * {b} = {a * b}, plus {c} gives \\boxed{{{value}}}."
        return Completion(text=text, prompt_tokens=60, completion_tokens=20)


def rerun(n: int) -> dict[str, float]:
    run = RunDir(tempfile.mkdtemp(prefix="bench-rerun-"))
    questions = arithmetic_questions(n)
    config = AnnotateConfig(plan=StagePlan(samples=2), batch_size=256)
    fill = ScriptedBackend()
    start = time.perf_counter()
    run_annotate(run, fill, config, questions=questions)
    fill_s = time.perf_counter() - start

    timings = {}
    for case in ("finished", "from_cache"):
        if case == "from_cache":
            run.attempts.unlink()
        backend = ScriptedBackend()
        start = time.perf_counter()
        funnel = run_annotate(run, backend, config, questions=questions)
        timings[case] = time.perf_counter() - start
        assert backend.calls == 0, f"{case}: {backend.calls} LLM calls on a finished run"
        assert funnel.solved == n
    return {
        "questions": n,
        "attempts": sum(1 for _ in read_jsonl(run.attempts)),
        "fill_s": fill_s,
        "rerun_s": timings["finished"],
        "rerun_from_cache_s": timings["from_cache"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="default to 20 and 1,000 questions")
    parser.add_argument("--questions", type=int, help="against the server (default 200)")
    parser.add_argument("--rerun-questions", type=int, help="re-run benchmark (default 10,000)")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=2, help="llama.cpp server processes")
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    args.questions = args.questions or (20 if args.quick else 200)
    args.rerun_questions = args.rerun_questions or (1_000 if args.quick else 10_000)

    print(f"# bench_annotate  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.platform()}")
    r = rerun(args.rerun_questions)
    print(
        f"re-run: {r['questions']} questions, {r['attempts']} attempts; fill {r['fill_s']:.1f} s; "
        f"re-run finished run {r['rerun_s']:.2f} s (goal < 10 s); "
        f"rebuild from cache {r['rerun_from_cache_s']:.2f} s"
    )
    if not args.skip_server:
        t = throughput(args.questions, args.max_tokens, args.concurrency, args.parallel)
        print(
            f"throughput: {t['questions']} questions, {t['requests']} requests, "
            f"{t['solved']} solved; pipeline {t['pipeline_tokens']} tok in {t['pipeline_s']:.1f} s "
            f"= {t['pipeline_tok_s']:.1f} tok/s; load generator {t['load_tokens']} tok in "
            f"{t['load_s']:.1f} s = {t['load_tok_s']:.1f} tok/s; "
            f"ratio {t['ratio']:.1%} (goal >= 90%)"
        )


if __name__ == "__main__":
    main()
