"""Client overhead of the `openai` backend against a fixed-latency OpenAI-compatible stub.

The stub (a separate process, raw asyncio, so it costs the client no CPU) answers every chat
request after exactly `--latency` seconds. With c requests in flight the ideal rate is
c / latency; the figure is measured requests/s as a fraction of that. The first row is the
sequential baseline: a plain `httpx.Client` loop, one request after the other.

    .venv/bin/python bench/bench_client.py [--quick] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import time
from datetime import UTC, datetime

import httpx

from sciinstruct.llm import GenerationRequest, SamplingParams
from sciinstruct.llm.openai_compat import OpenAIBackend
from sciinstruct.llm.serve import free_port

_REPLY = json.dumps(
    {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "42"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 1},
    }  # fmt: skip
).encode()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float):
    try:
        while True:  # keep-alive: many requests per connection
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            await asyncio.sleep(latency)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(_REPLY), _REPLY)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def _serve_stub(port: int, latency: float) -> None:
    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, latency), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _sequential_baseline(url: str, n: int) -> float:
    """The naive loop: one blocking request after another. Returns requests/s."""
    body = {"model": "stub", "messages": [{"role": "user", "content": "q"}], "max_tokens": 1}
    with httpx.Client() as client:
        start = time.perf_counter()
        for _ in range(n):
            client.post(url + "/chat/completions", json=body).raise_for_status()
        return n / (time.perf_counter() - start)


def _backend_rate(url: str, concurrency: int, n: int) -> tuple[float, int, float]:
    """requests/s, failed requests, and client CPU milliseconds per request."""
    backend = OpenAIBackend("stub", base_url=url, concurrency=concurrency, timeout=60)
    requests = [
        GenerationRequest([{"role": "user", "content": f"q{i}"}], SamplingParams(seed=i))
        for i in range(n)
    ]
    start, cpu = time.perf_counter(), time.process_time()
    out = asyncio.run(backend.agenerate(requests))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return n / elapsed, sum(not c.ok for c in out), 1000 * cpu / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 waves per level instead of 8")
    parser.add_argument("--latency", type=float, default=2.0, help="stub latency in seconds")
    args = parser.parse_args()
    waves = 2 if args.quick else 8  # each level sends concurrency * waves requests

    port = free_port()
    stub = multiprocessing.Process(target=_serve_stub, args=(port, args.latency), daemon=True)
    stub.start()
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(100):
        try:
            httpx.get(url.rsplit("/v1", 1)[0], timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.1)

    lat = args.latency
    rows = [
        ("sequential httpx loop (baseline)", 1, waves, _sequential_baseline(url, waves), 0, None)
    ]
    for c in (1, 16, 64, 256):
        rate, failed, cpu_ms = _backend_rate(url, c, c * waves)
        rows.append(("openai backend", c, c * waves, rate, failed, cpu_ms))
    stub.terminate()

    print(f"# bench_client — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
          f"stub latency {lat:g} s, {waves} waves per level, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| client | concurrency | requests | req/s | ideal req/s | fraction of ideal | failed "
          "| client CPU ms/request |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, c, n, rate, failed, cpu_ms in rows:
        ideal = c / lat
        cpu = "" if cpu_ms is None else f"{cpu_ms:.2f}"
        print(f"| {name} | {c} | {n} | {rate:.1f} | {ideal:.1f} | {rate / ideal:.1%} | {failed} "
              f"| {cpu} |")  # fmt: skip
    speedup = rows[-1][3] / rows[0][3]
    print(f"\nconcurrency 256 vs the sequential loop: {speedup:.0f}x the requests/s")


if __name__ == "__main__":
    main()
