"""Tokens/s of the embedded model's engines on the same prompts, against this machine's limits.

Engines: llama.cpp in-process, the one-request-at-a-time engine (`slots=1`) against continuous
batching (`slots=n`) at 1, 4, 16 and 32 sequences in flight, side by side in interleaved rounds
on the same prompts; then one sequence at a time at 1 thread and all cores, 1 context against
one per core (`parallel`), the llama.cpp server under
concurrent load (1 process, one per core), transformers batched at several batch sizes. The
machine's
limits are measured once in the same run: memory bandwidth (a large array copy) and float32
matrix-multiply FLOP/s. A decoding step reads every weight once and produces one token per
sequence in the batch, so

    bandwidth roof = bandwidth / weight bytes * sequences in flight
    compute roof   = FLOP/s / (2 * parameters)      (~0.27 GFLOP per token for 135M)

and an engine's limit is the lower of the two. (The KV cache read is left out: at these prompt
lengths it is a few percent of the weights.)

    .venv/bin/python bench/bench_engines.py [--quick] [--only batching|parallel|weights|decode|flash]

`--only decode` reports the batched context's tokens per CPU-second at 1 thread both ways:
with prompt evaluation in the CPU time, and decode-only (prompts evaluated first, only the
decoding steps timed), main's engine against this one (`decode_rows`). `--only flash` reports
the same for the default kernel against flash attention (`flash_attn`), then the
one-at-a-time engine (`slots=1`) both ways, with whether its texts equal the batched engine's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from sciinstruct.embedded_model import gguf_path
from sciinstruct.llm import GenerationRequest, SamplingParams, make_backend
from sciinstruct.llm.llamacpp import DEFAULT_SLOTS, default_threads
from sciinstruct.llm.openai_compat import OpenAIBackend
from sciinstruct.llm.serve import start_server

PARAMS = 134.5e6  # SmolLM2-135M parameters (embeddings tied with the output layer)
FLOP_PER_TOKEN = 2 * PARAMS  # one multiply-add per parameter per token: ~0.27 GFLOP

QUESTIONS = [
    "A car accelerates from rest at 3 m/s^2. How far does it travel in 4 s?",
    "What is the pH of a 0.01 M HCl solution?",
    "Balance the equation: H2 + O2 -> H2O.",
    "Why is the sky blue?",
    "Compute the derivative of x^3 sin(x).",
    "How many moles are in 36 g of water?",
    "State Newton's second law and give an example.",
    "What is the kinetic energy of a 2 kg mass moving at 3 m/s?",
]


@dataclass
class Row:
    engine: str
    config: str
    tokens: int
    seconds: float
    limit: float
    bound: str
    cpu_seconds: float | None = None  # this process's CPU time (None: another process's work)

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def measure_bandwidth(mb: int = 512, repeats: int = 5) -> float:
    """Bytes/s of a large copy (read + write), best of `repeats`."""
    src = np.ones(mb * 2**20 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * src.nbytes / best


def _matmul_flops(n: int, repeats: int, clock: Callable[[], float]) -> float:
    """float32 n x n matmul FLOP per second of `clock`, best of `repeats` (after a warm-up)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = clock()
        a @ b
        best = min(best, clock() - t)
    return 2 * n**3 / best


def measure_flops(n: int = 1024, repeats: int = 10) -> float:
    """float32 matmul FLOP/s with torch (all threads), best of `repeats`."""
    return _matmul_flops(n, repeats, time.perf_counter)


def measure_flops_per_cpu_second(n: int = 1024, repeats: int = 10) -> float:
    """float32 matmul FLOP per CPU-second of one thread, best of `repeats`: what one core
    computes while it runs, however often the machine's other users take it away (a wall-clock
    figure on a loaded machine is a fraction of it). The roof that tokens per CPU-second of a
    1-thread engine are held against."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torch computes in the calling thread: its CPU clock counts it
    try:
        return _matmul_flops(n, repeats, time.thread_time)
    finally:
        torch.set_num_threads(threads)


def limit(bandwidth: float, flops: float, weight_bytes: float, in_flight: int) -> tuple[float, str]:
    bw_roof = bandwidth / weight_bytes * in_flight
    compute_roof = flops / FLOP_PER_TOKEN
    return (bw_roof, "bandwidth") if bw_roof < compute_roof else (compute_roof, "compute")


def requests(n: int, max_tokens: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}],
            SamplingParams(temperature=0.7, max_tokens=max_tokens, seed=i),
        )
        for i in range(n)
    ]


def timed(fn) -> tuple[int, float]:
    return timed_cpu(fn)[:2]


def timed_cpu(fn) -> tuple[int, float, float]:
    """(completion tokens, wall seconds, CPU seconds of this process) of one batch. On a
    shared machine tokens per CPU-second is the steadier measure of an engine's efficiency:
    wall time also counts the time other users' processes held the cores."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    failed = [c.error for c in out if not c.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} requests failed, first: {failed[0]}")
    return sum(c.completion_tokens for c in out), seconds, cpu


def interleaved(configs: dict, reqs, rounds: int) -> dict:
    """(tokens, seconds, CPU seconds) summed over `rounds` per backend, the order alternating
    each round so that a burst of load from the machine's other users falls on both alike."""
    totals = {key: (0, 0.0, 0.0) for key in configs}
    for r in range(rounds):
        for key in list(configs)[:: 1 if r % 2 == 0 else -1]:
            got = timed_cpu(lambda b=configs[key]: b.generate(reqs))
            totals[key] = tuple(a + b for a, b in zip(totals[key], got, strict=True))
    return totals


def batching_rows(
    rounds: int, max_tokens: int, threads: int, bandwidth: float, flops: float, q4_bytes: int
) -> list[Row]:
    """One context of `threads` threads: the one-at-a-time engine (slots=1) against continuous
    batching with a slot for every sequence (at least the default count), n sequences in
    flight, in interleaved rounds."""
    rows = []
    for n in (1, 4, 16, 32):
        reqs = requests(n, max_tokens)
        engines = {
            slots: make_backend("llamacpp", n_threads=threads, parallel=1, slots=slots)
            for slots in (1, max(n, DEFAULT_SLOTS))
        }
        for backend in engines.values():
            backend.generate(reqs[:1])  # warm-up
        totals = interleaved(engines, reqs, rounds)
        for backend in engines.values():
            backend.close()
        for slots, (tokens, seconds, cpu) in totals.items():
            name = "one at a time (slots=1)" if slots == 1 else f"batched (slots={slots})"
            rows.append(Row("llama.cpp in-process", f"{name}, {n} requests, {threads} thread(s)",
                            tokens, seconds, *limit(bandwidth, flops, q4_bytes, min(slots, n)),
                            cpu))  # fmt: skip
            print(f"  {rows[-1].config}: {rows[-1].rate:.1f} tokens/s", file=sys.stderr)
    return rows


def weights_rows(
    rounds: int, max_tokens: int, threads: int, bandwidth: float, flops: float, kinds: list[str]
) -> list[Row]:
    """One batched context (a slot per sequence, at least the default count) per weights type,
    n sequences in flight, interleaved rounds, prompts evaluated in each call (no reuse across
    calls: every call's prompts are new to the engine, as the demo's are). The config says
    prompt tokens too, since `tokens` counts completion tokens only."""
    from sciinstruct.llm.llamacpp_weights import weights_file

    rows = []
    for n in (1, 4, 16, 32):
        reqs = requests(n, max_tokens)
        slots = max(n, DEFAULT_SLOTS)
        engines = {
            kind: make_backend(
                "llamacpp",
                n_threads=threads,
                parallel=1,
                slots=slots,
                weights=kind,
                prefix_reuse=False,
            )  # fmt: skip
            for kind in kinds
        }
        for backend in engines.values():
            backend.generate(reqs[:1])  # warm-up
        totals = interleaved(engines, reqs, rounds)
        for kind, backend in engines.items():
            prompt = backend._batched[0].stats["prompt_tokens_evaluated"]  # warm-up's included
            backend.close()
            size = weights_file(gguf_path(), kind).stat().st_size
            tokens, seconds, cpu = totals[kind]
            rows.append(Row("llama.cpp in-process",
                            f"weights={kind} ({size / 1e6:.0f} MB), slots={slots}, {n} requests "
                            f"(+{prompt} prompt tokens), {threads} thread(s)",
                            tokens, seconds, *limit(bandwidth, flops, size, n), cpu))  # fmt: skip
            print(f"  {rows[-1].config}: {tokens / cpu:.1f} tokens/CPU-s", file=sys.stderr)
    return rows


# --only decode: main's engine against this one, with and without flash attention
DECODE_ENGINES = {
    "old": {"compact": False, "flash_attn": False},  # admission order, gaps split a step
    "new": {"compact": True, "flash_attn": False},  # the engine before flash attention
    "new+flash_attn": {"compact": True, "flash_attn": True},  # the default engine
}
# --only flash: the default kernel against flash attention, batched and one at a time
FLASH_ENGINES = {
    "attention": {"compact": True, "flash_attn": False},  # `flash_attn: false`
    "flash_attn": {"compact": True, "flash_attn": True},  # the default
}


def decode_rows(
    rounds: int, max_tokens: int, cpu_roof: float, engines_of: dict = DECODE_ENGINES
) -> list[str]:
    """Tokens per CPU-second of one batched context at 1 thread, n sequences in flight, in
    interleaved rounds, counted three ways: completion tokens per CPU-second of the process
    with prompt evaluation in it (what the bench's other rows count); decode-only, every
    decoding step's tokens per CPU-second of the worker thread in those steps (prompts
    evaluated before and not counted; sampling, batch building and stop checks counted); and
    decode-only over the steps with all n sequences in flight (a batch's tail, where finished
    sequences leave fewer, left out). Also prompt evaluation alone (prompt tokens per CPU-second
    of the worker thread in `_prefill`) and the split of a step's CPU time: llama_decode,
    llama.cpp's sampler chain, the Python around them. Prefix reuse is off (every prompt is
    new to the engine, as the demo's are)."""
    lines = [
        "| sequences | engine | with prompts: tokens per CPU-s | fraction of roof "
        "| decode-only | fraction | decode-only, n in flight | fraction "
        "| prompt tokens per CPU-s | step: llama_decode / sampler / Python | moves |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for n in (1, 4, 16, 32):
        reqs = requests(n, max_tokens)
        engines = {}
        for name, options in engines_of.items():
            backend = make_backend("llamacpp", n_threads=1, parallel=1,
                                   slots=max(n, DEFAULT_SLOTS), prefix_reuse=False,
                                   flash_attn=options["flash_attn"])  # fmt: skip
            backend._batched[0].compact = options["compact"]
            backend.generate(reqs[:1])  # warm-up
            context = backend._batched[0]
            context.stats.update({k: 0 * v for k, v in context.stats.items()})
            context.step_widths.clear()
            engines[name] = backend
        totals = interleaved(engines, reqs, rounds)
        for name, backend in engines.items():
            context = backend._batched[0]
            stats, width = context.stats, context.step_widths.get(n, [0, 0.0])
            backend.close()
            tokens, _, cpu = totals[name]
            step = stats["step_cpu_s"]
            decode = stats["tokens_decoded"] / step
            full = n * width[0] / width[1] if width[0] else float("nan")
            prefill = stats["prompt_tokens_evaluated"] / stats["prefill_cpu_s"]
            split = (stats["decode_cpu_s"], stats["sample_cpu_s"],
                     step - stats["decode_cpu_s"] - stats["sample_cpu_s"])  # fmt: skip
            lines.append(
                f"| {n} | {name} | {tokens / cpu:.1f} | {tokens / cpu / cpu_roof:.1%} "
                f"| {decode:.1f} | {decode / cpu_roof:.1%} | {full:.1f} | {full / cpu_roof:.1%} "
                f"| {prefill:.0f} | {' / '.join(f'{x / step:.1%}' for x in split)} "
                f"| {stats['moves']} |"
            )
            print(f"  {lines[-1]}", file=sys.stderr)
    return lines


def one_at_a_time_rows(rounds: int, max_tokens: int, cpu_roof: float) -> list[str]:
    """The one-at-a-time engine (`slots=1`, llama-cpp-python's own loop) with and without
    flash attention, n requests in turn, interleaved rounds: completion tokens per CPU-second
    of the process, prompt evaluation included; and whether both kernels' texts equal the
    batched engine's at 16 slots (one seed, one text at every slot count)."""
    lines = [
        "| requests | engine | tokens per CPU-s | fraction of roof | texts equal slots=16's |",
        "|---:|---|---:|---:|---|",
    ]
    for n in (1, 4, 16):
        reqs = requests(n, max_tokens)
        engines = {
            name: make_backend(
                "llamacpp", n_threads=1, parallel=1, slots=1, flash_attn=options["flash_attn"]
            )  # fmt: skip
            for name, options in FLASH_ENGINES.items()
        }
        for backend in engines.values():
            backend.generate(reqs[:1])  # warm-up
        totals = interleaved(engines, reqs, rounds)
        for name, backend in engines.items():
            texts = [c.text for c in backend.generate(reqs)]
            backend.close()
            batched = make_backend("llamacpp", n_threads=1, parallel=1, slots=16,
                                   flash_attn=FLASH_ENGINES[name]["flash_attn"])  # fmt: skip
            same = sum(a == c.text for a, c in zip(texts, batched.generate(reqs), strict=True))
            batched.close()
            tokens, _, cpu = totals[name]
            lines.append(f"| {n} | slots=1, {name} | {tokens / cpu:.1f} "
                         f"| {tokens / cpu / cpu_roof:.1%} | {same} of {n} |")  # fmt: skip
            print(f"  {lines[-1]}", file=sys.stderr)
    return lines


def prefix_rows(max_tokens: int, threads: int, bandwidth: float, flops: float, q4_bytes: int):
    """k=4 samples of 4 questions at 16 slots, the prompt's KV cache copied or evaluated each
    time; and the share of prompt tokens the copy saved."""
    reqs = [r for r in requests(4, max_tokens) for _ in range(4)]
    reqs = [
        GenerationRequest(
            r.messages, SamplingParams(temperature=0.7, max_tokens=max_tokens, seed=i)
        )  # fmt: skip
        for i, r in enumerate(reqs)
    ]
    rows = []
    engines = {
        reuse: make_backend(
            "llamacpp", n_threads=threads, parallel=1, slots=16, prefix_reuse=reuse
        )  # fmt: skip
        for reuse in (True, False)
    }
    for backend in engines.values():
        backend.generate(reqs[:1])
    totals = interleaved(engines, reqs, 2)
    for reuse, backend in engines.items():
        stats = backend._batched[0].stats
        saved = stats["prompt_tokens_copied"] / (
            stats["prompt_tokens_copied"] + stats["prompt_tokens_evaluated"]
        )
        backend.close()
        rows.append(Row("llama.cpp in-process",
                        f"4 questions x 4 samples, slots=16, prefix {'copied' if reuse else 'evaluated'}"
                        f" ({saved:.0%} of prompt tokens copied)",
                        *totals[reuse][:2], *limit(bandwidth, flops, q4_bytes, 16),
                        totals[reuse][2]))  # fmt: skip
    return rows


def parallel_rows(reqs, rounds: int, bandwidth: float, flops_1: float, q4_bytes: int) -> list[Row]:
    """llama.cpp in-process at 1 thread per context: 1 context against one per core."""
    cores = os.cpu_count() or 1
    backends = {
        n: make_backend("llamacpp", n_threads=1, parallel=n, slots=1) for n in sorted({1, cores})
    }
    for backend in backends.values():
        backend.generate(reqs[: len(backends)])  # warm-up
    totals = interleaved(backends, reqs, rounds)
    for backend in backends.values():
        backend.close()
    return [
        Row(
            "llama.cpp in-process",
            f"parallel={n} x 1 thread, {rounds} interleaved rounds",
            *totals[n][:2],
            *limit(bandwidth, flops_1 * n, q4_bytes, n),
            totals[n][2],
        )  # fmt: skip
        for n in backends
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 prompts, 16 tokens each")
    parser.add_argument(
        "--only",
        choices=["batching", "parallel", "weights", "decode", "flash"],
        help="just these rows",
    )
    parser.add_argument("--weights", default="q4_1,q8_0,f16", help="types of the weights rows")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--threads", type=int, help="threads of the batching rows' context")
    parser.add_argument("--max-tokens", type=int, help="tokens per request (64; --quick: 16)")
    args = parser.parse_args()
    n, max_tokens = (4, 16) if args.quick else (16, 64)
    max_tokens = args.max_tokens or max_tokens
    reqs = requests(n, max_tokens)

    import torch

    cores = os.cpu_count() or 1
    bandwidth = measure_bandwidth()
    torch.set_num_threads(1)
    flops_1 = measure_flops()
    torch.set_num_threads(cores)
    flops_all = measure_flops()
    flops = {1: flops_1, cores: flops_all}
    cpu_roof = measure_flops_per_cpu_second() / FLOP_PER_TOKEN  # tokens per CPU-second
    q4_bytes = gguf_path().stat().st_size  # Q4_1 weights, what llama.cpp reads per step
    rows = []
    decode_table = decode_rows(args.rounds, max_tokens, cpu_roof) if args.only == "decode" else []
    if args.only == "flash":
        decode_table = decode_rows(args.rounds, max_tokens, cpu_roof, FLASH_ENGINES)
        decode_table += ["", *one_at_a_time_rows(args.rounds, max_tokens, cpu_roof)]
    if args.only in (None, "batching"):
        threads = args.threads or default_threads()
        batch_flops = flops_1 if threads == 1 else flops_all
        rows += batching_rows(args.rounds, max_tokens, threads, bandwidth, batch_flops, q4_bytes)
        rows += prefix_rows(max_tokens, threads, bandwidth, batch_flops, q4_bytes)
    if args.only in (None, "weights"):
        threads = args.threads or default_threads()
        batch_flops = flops_1 if threads == 1 else flops_all
        kinds = args.weights.split(",")
        rows += weights_rows(args.rounds, max_tokens, threads, bandwidth, batch_flops, kinds)
    if args.only in (None, "parallel"):
        rows += parallel_rows(reqs, args.rounds, bandwidth, flops_1, q4_bytes)
    f32_bytes = 4 * PARAMS  # float32, before transformers is loaded (it may not be)

    for threads in (1, cores) if args.only is None else ():
        backend = make_backend("llamacpp", n_threads=threads, parallel=1, slots=1)
        backend.generate(reqs[:1])  # warm-up
        rows.append(Row("llama.cpp in-process", f"sequential, {threads} thread(s)",
                        *timed(lambda b=backend: b.generate(reqs)),
                        *limit(bandwidth, flops[threads], q4_bytes, 1)))  # fmt: skip
        backend.close()

    servers = [(1, 1, 1), (cores, 1, 1), (1, cores, 16)]  # processes, threads, slots
    for parallel, threads, slots in servers if args.only is None else ():
        with start_server(parallel=parallel, n_threads=threads, slots=slots) as server:
            client = OpenAIBackend(base_url=server.joined_urls, concurrency=16)
            asyncio.run(client.agenerate(reqs[:parallel]))  # warm-up
            tokens, seconds = timed(lambda c=client: asyncio.run(c.agenerate(reqs)))
            in_flight = parallel * min(slots, 16)
            kind = "one at a time" if slots == 1 else f"batched, slots={slots}"
            rows.append(Row("llama.cpp server",
                            f"{parallel} process(es) x {threads} thread(s), {kind}, 16 concurrent",
                            tokens, seconds,
                            *limit(bandwidth, flops[threads] * parallel, q4_bytes, in_flight)))  # fmt: skip

    sizes = (1, 4) if args.quick else (1, 4, 16)
    hf_configs = [(1, b) for b in sizes] + [(cores, sizes[-1])] if args.only is None else []
    if hf_configs:
        hf = make_backend("transformers")
        f32_bytes = sum(p.numel() * p.element_size() for p in hf._model.parameters())
        hf.generate(reqs[:1])  # warm-up
    for threads, batch_size in hf_configs:
        torch.set_num_threads(threads)
        hf.batch_size = batch_size
        rows.append(Row("transformers", f"batch {batch_size}, {threads} thread(s)",
                        *timed(lambda: hf.generate(reqs)),
                        *limit(bandwidth, flops[threads], f32_bytes, batch_size)))  # fmt: skip

    print(f"# bench_engines — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print(f"machine: memory bandwidth {bandwidth / 1e9:.1f} GB/s, float32 matmul "
          f"{flops_1 / 1e9:.1f} GFLOP/s on 1 thread, {flops_all / 1e9:.1f} on {cores}; weights read per step: Q4_1 {q4_bytes / 1e6:.0f} MB, "
          f"float32 {f32_bytes / 1e6:.0f} MB; {n} prompts x up to {max_tokens} tokens; "
          f"compute roof per CPU-second of one thread {cpu_roof * FLOP_PER_TOKEN / 1e9:.1f} "
          f"GFLOP, {cpu_roof:.0f} tokens\n")  # fmt: skip
    if decode_table:
        print(f"1 thread, {args.rounds} interleaved rounds; roof {cpu_roof:.0f} tokens per "
              "CPU-second\n")  # fmt: skip
        print("\n".join(decode_table))
        return
    print("| engine | config | tokens | s | tokens/s | limit tokens/s | bound | fraction of limit "
          "| CPU s | tokens per CPU-s | fraction of the CPU-second roof |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        cpu = "| | |" if r.cpu_seconds is None else (
            f"| {r.cpu_seconds:.1f} | {r.tokens / r.cpu_seconds:.1f} | "
            f"{r.tokens / r.cpu_seconds / cpu_roof:.1%} |")  # fmt: skip
        print(f"| {r.engine} | {r.config} | {r.tokens} | {r.seconds:.1f} | {r.rate:.1f} | "
              f"{r.limit:.0f} | {r.bound} | {r.rate / r.limit:.1%} {cpu}")  # fmt: skip
    best = max(rows, key=lambda r: r.rate)
    print(f"\nfastest: {best.engine} ({best.config}) at {best.rate:.1f} tokens/s")


if __name__ == "__main__":
    main()
