"""The grading server under load: `sciinstruct serve-grader` on loopback vs `grade` in-process.

    nice -n 10 .venv/bin/python bench/bench_grade_server.py [--items 2000] [--workers 2]

Items are long worked solutions as RL rollouts write them (several paragraphs of reasoning, then
a boxed or a prose final answer; numbers with units, choices, expressions, some wrong), each
with its own reference, and 1% hostile ones: 20,000 nested braces, a tower of exponents, a
100,000-character answer. Every item is distinct, so no cache answers a repeat.

1. In-process: `sciinstruct.grading.grade` on each item in turn, one process (what a reward
   function in the trainer does); grades/s.
2. The server (a subprocess, `--workers` grading processes) with 1, 64 and 256 concurrent
   clients, each posting batches of `--batch` items to `/grade` and waiting for the reply
   before the next; a 429 is retried after its Retry-After (counted, not an error). Reported:
   grades/s, the latency of admitted requests (the try that was answered 200: p50, p99, max,
   and how many ended past their budget: the limit + 1 s, a limit per round of the expensive
   lanes for a batch with more expensive items than lanes) and of whole requests (429 waits
   included: p50), errors, 429s, items answered overloaded, the hostile items' worst time in a
   worker and worst request latency, and the items the static cost scan called cheap that took
   over 1 s in a worker (its misses, from /health).
3. The cost scan's own time per item (`sciinstruct.integrations.cost.item_rule`), against the
   in-process time of a grade.

Goals (issue 23): at 64 clients ≥ 80% of in-process grades/s; no admitted request past its
limit + 1 s; 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from sciinstruct.integrations.cost import item_rule  # noqa: E402

ITEM_TIMEOUT_S = 5.0
KILL_MARGIN_S = 0.5  # sciinstruct.integrations.server.KILL_MARGIN_S

REASONING = [
    "We start by writing down what is given and what is asked. The problem gives the quantities "
    "in mixed units, so the first step is to convert everything to SI units before substituting.",
    "Next we choose the governing relation. Since no energy is lost to friction, the mechanical "
    "energy is conserved between the initial and the final state, and the work done equals the "
    "change in kinetic energy.",
    "Substituting the numbers, we keep three significant figures throughout and round only at "
    "the end. It is worth checking the units: kg times m^2/s^2 is a joule, as it should be.",
    "As a sanity check, the result has the right order of magnitude: a few kilojoules for a "
    "car-sized mass moving at walking speed would be far too much, but here the mass is larger.",
    "Let me double-check the arithmetic step by step: multiplying first and dividing second "
    "avoids rounding the intermediate quotient, which would shift the third digit.",
]


def worked(answer: str, boxed: bool, rng: random.Random) -> str:
    paragraphs = rng.sample(REASONING, k=rng.randint(3, 5))
    steps = f"Step {rng.randint(1, 9)}: x_{rng.randint(1, 99)} = {rng.uniform(1, 99):.3f}."
    end = (
        f"Therefore, the final answer is \\boxed{{{answer}}}."
        if boxed
        else (f"So the answer is {answer}.")
    )
    return "\n\n".join([*paragraphs, steps, end])


def make_items(n: int, seed: int = 0) -> list[dict]:
    """`n` distinct items, 1% hostile (their `hostile` key is stripped before sending)."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        if i % 100 == 99:
            items.append(hostile(i, rng))
            continue
        kind = i % 5
        wrong = rng.random() < 0.3
        if kind == 0:  # energy with a unit conversion, boxed
            joules = rng.randint(1000, 99000)
            said = joules * (1.07 if wrong else 1) / 1000
            items.append(item(worked(f"{said:g} kJ", True, rng), f"{joules} J"))
        elif kind == 1:  # prose answer with a unit
            v = rng.uniform(1, 300)
            said = v * (0.9 if wrong else 1.0)
            items.append(item(worked(f"{said:.4g} m/s", False, rng), f"{v:.4g} m/s"))
        elif kind == 2:  # multiple choice
            letters = "ABCD"
            right = rng.choice(letters)
            said = rng.choice(letters) if wrong else right
            choices = [f"{rng.randint(1, 500)} N" for _ in letters]
            ref = {"answer": right, "answer_type": "choice", "choices": choices}
            items.append(item(worked(f"({said})", False, rng), ref))
        elif kind == 3:  # an expression: a symbolic check in the grader's sandbox
            a = rng.randint(2, 40)
            said = f"(x+{a + (1 if wrong else 0)})^2"
            items.append(item(worked(said, True, rng), f"x^2+{2 * a}x+{a * a}"))
        else:  # a number with a tolerance from the reference
            g = rng.uniform(9.7, 9.9)
            ref = {"answer": f"{g:.3f}", "unit": "m/s^2", "tolerance": 0.02}
            items.append(item(worked(f"{g * (1.05 if wrong else 1):.2f}", True, rng), ref))
    return items


def hostile(i: int, rng: random.Random) -> dict:
    kind = (i // 100) % 3
    if kind == 0:
        depth = 20_000
        text = "\\boxed{" + "{" * depth + "1" + "}" * depth + "}"
    elif kind == 1:
        text = "\\boxed{" + "10^{" * 12 + str(rng.randint(10, 99)) + "}" * 12 + "}"
    else:
        text = "The answer is " + "".join(rng.choice("0123456789") for _ in range(100_000))
    return {**item(text, f"{rng.randint(1, 99)}"), "hostile": True}


def item(response: str, reference) -> dict:
    return {"response": response, "reference": reference, "timeout": ITEM_TIMEOUT_S}


def in_process(items: list[dict]) -> float:
    """grades/s of `grade` called on each item in turn (warmed up first)."""
    from sciinstruct.grading import grade
    from sciinstruct.integrations.reference import parse_reference

    grade("\\boxed{(x+1)^2}", "x^2+2x+1")  # start the sandbox worker outside the clock
    start = time.perf_counter()
    for it in items:
        ref = parse_reference(it["reference"])
        grade(
            it["response"], ref.answer, answer_type=ref.answer_type, unit=ref.unit,
            choices=ref.choices, metadata=ref.metadata, timeout=it["timeout"],
        )  # fmt: skip
    return len(items) / (time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int, max_queue: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "sciinstruct.cli.main", "serve-grader", "--port", str(port),
           "--workers", str(workers), "--max-queue", str(max_queue),
           "--timeout", str(ITEM_TIMEOUT_S)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("serve-grader did not come up in 180 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux `/proc`; nan elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scan_cost(items: list[dict]) -> tuple[float, float]:
    """Mean and worst seconds of the static cost scan per item (best of 3 passes, so other
    processes' load weighs little)."""
    per_item = []
    for it in items:
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            item_rule(it["response"], it["reference"])
            best = min(best, time.perf_counter() - start)
        per_item.append(best)
    return statistics.mean(per_item), max(per_item)


def budget(b: list[dict], lanes: int) -> float:
    """The server's promise for a batch: its limit + 1 s, a limit per round of the expensive
    lanes if it has more expensive items than lanes (`sciinstruct.integrations.admission`)."""
    expensive = sum(item_rule(it["response"], it["reference"]) is not None for it in b)
    return (ITEM_TIMEOUT_S + KILL_MARGIN_S) * max(1, math.ceil(expensive / lanes)) + 1.0


class Reply(NamedTuple):
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class Connection:
    """One keep-alive HTTP/1.1 connection speaking the bare protocol (a POST with its
    Content-Length, a reply framed by its Content-Length): a load generator whose own CPU stays
    small beside the server's, as a trainer's clients on other machines would be; httpx's
    pool costs this process far more per request (`--client httpx` measures with it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: Any) -> Reply:
        data = json.dumps(body).encode()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode() + data)
            await self.writer.drain()
            assert self.reader is not None
            raw = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *lines = raw.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            if "content-length" not in headers:
                raise ConnectionError("reply without a Content-Length")
            content = await self.reader.readexactly(int(headers["content-length"]))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            raise
        return Reply(int(status_line.split()[1]), headers, content)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def server_timing(reply: Any) -> dict[str, float]:
    """The server's own account of a request (its `Server-Timing` header), in seconds."""
    parts = (p.strip().split(";dur=") for p in reply.headers["server-timing"].split(","))
    return {name: float(ms) / 1000 for name, ms in parts}


def pct(values: list[float], q: float) -> float:
    """The `q` quantile of sorted `values` (nan for none)."""
    return values[min(len(values) - 1, int(q * len(values)))] if values else math.nan


async def load(
    url: str, items: list[dict], clients: int, batch: int, lanes: int, kind: str = "raw"
) -> dict:
    """`clients` concurrent clients sharing the items in batches; one request at a time each,
    on its own connection (`kind`: the bare `Connection`, or one httpx client's pool)."""
    batches = [items[i : i + batch] for i in range(0, len(items), batch)]
    queue: asyncio.Queue = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)
    latencies: list[float] = []  # the admitted try
    totals: list[float] = []  # from the first try, 429 waits included
    hostile_latency: list[float] = []
    hostile_worker: list[float] = []
    stats = {"errors": 0, "retries_429": 0, "timed_out": 0, "overloaded": 0, "late": 0}
    stats |= {"server_late": 0}
    worst_over = -math.inf  # the largest latency less its budget
    server_worst = -math.inf  # the same by the server's own account (its Server-Timing)
    reads: list[float] = []  # the server's arrival to admission (body read and parsed)
    outside: list[float] = []  # the client's latency less the server's total: not in its clock
    lags: list[float] = []  # this client process's own event-loop lag, sampled
    error_kinds: collections.Counter[str] = collections.Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    host_port = urlsplit(url)
    errors_caught = (httpx.HTTPError, OSError, asyncio.IncompleteReadError)

    async def client(http: httpx.AsyncClient) -> None:
        raw = Connection(host_port.hostname or "127.0.0.1", host_port.port or 80)
        post = (
            (lambda body: http.post(url + "/grade", json=body))
            if kind == "httpx"
            else (lambda body: raw.post("/grade", body))
        )
        try:
            await serve(post)
        finally:
            raw.close()

    async def serve(post: Any) -> None:
        while not queue.empty():
            b = queue.get_nowait()
            body = {"items": [{k: v for k, v in it.items() if k != "hostile"} for it in b]}
            first = time.perf_counter()
            while True:
                start = time.perf_counter()
                try:
                    reply = await post(body)
                except errors_caught as exc:
                    stats["errors"] += 1
                    error_kinds[type(exc).__name__] += 1
                    break
                if reply.status_code == 429:
                    stats["retries_429"] += 1
                    await asyncio.sleep(float(reply.headers.get("retry-after", "1")))
                    continue
                if reply.status_code != 200 or len(reply.json()["verdicts"]) != len(b):
                    stats["errors"] += 1
                    error_kinds[f"HTTP {reply.status_code}"] += 1
                break
            elapsed = time.perf_counter() - start
            latencies.append(elapsed)
            totals.append(time.perf_counter() - first)
            if reply.status_code != 200:
                continue
            nonlocal worst_over, server_worst
            over = elapsed - budget(b, lanes)
            worst_over = max(worst_over, over)
            stats["late"] += over > 0
            timing = server_timing(reply)
            server_over = timing["total"] - timing["budget"]
            server_worst = max(server_worst, server_over)
            stats["server_late"] += server_over > 0
            reads.append(timing["read"])
            outside.append(elapsed - timing["total"])
            for it, v in zip(b, reply.json()["verdicts"], strict=True):
                stats["timed_out"] += v["timed_out"]
                stats["overloaded"] += v["reason"].startswith("not started within its limit")
                if it.get("hostile"):
                    hostile_latency.append(elapsed)
                    hostile_worker.append(v["elapsed_s"] or 0.0)

    async def watch() -> None:  # how late this process's own timers fire
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.05)
            lags.append(time.perf_counter() - start - 0.05)

    async with httpx.AsyncClient(timeout=600, limits=limits) as http:
        watcher = asyncio.ensure_future(watch())
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - start
        watcher.cancel()
    latencies.sort()
    reads.sort()
    outside.sort()
    return {
        "clients": clients,
        "grades_s": len(items) / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "max": latencies[-1],
        "p50_total": statistics.median(totals),
        "hostile_worker_max": max(hostile_worker, default=0.0),
        "hostile_request_max": max(hostile_latency, default=0.0),
        "worst_over_budget": worst_over,
        "server_worst_over": server_worst,
        "read_p99": pct(reads, 0.99),
        "read_max": reads[-1] if reads else math.nan,
        "outside_p99": pct(outside, 0.99),
        "outside_max": outside[-1] if outside else math.nan,
        "client_lag_max": max(lags, default=0.0),
        "error_kinds": dict(error_kinds),
        "expensive": sum(item_rule(it["response"], it["reference"]) is not None for it in items),
        **stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="items per phase")
    parser.add_argument("--workers", type=int, default=2, help="server grading processes")
    parser.add_argument("--batch", type=int, default=8, help="items per request")
    parser.add_argument("--max-queue", type=int, default=1024, help="server queue (items)")
    parser.add_argument("--clients", default="1,64,256", help="concurrency levels")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="load generator: bare HTTP/1.1 connections (default) or httpx's pool",
    )
    args = parser.parse_args()
    lanes = max(1, args.workers - 1)  # sciinstruct.integrations.admission.Admission.lanes
    items = make_items(args.items)
    n_hostile = sum(bool(it.get("hostile")) for it in items)
    chars = statistics.mean(len(it["response"]) for it in items if not it.get("hostile"))
    print(f"{len(items)} items ({n_hostile} hostile), mean completion {chars:.0f} chars")
    base = in_process(items)
    print(f"in-process grade: {base:.1f} grades/s")
    scan_mean, scan_max = scan_cost(items)
    print(f"cost scan: mean {scan_mean * 1e6:.1f} µs, worst {scan_max * 1e6:.0f} µs an item "
          f"({scan_mean * base:.2%} of an in-process grade on average)")  # fmt: skip
    port = free_port()
    proc = start_server(port, args.workers, args.max_queue)
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(load(url, items[:64], 8, args.batch, lanes, args.client))  # warm imports
        for clients in (int(c) for c in args.clients.split(",")):
            # fresh items per phase (another seed) so no worker cache answers a repeat
            phase = make_items(args.items, seed=clients)
            before = httpx.get(url + "/health?window=1").json()  # a fresh window
            cpu = time.process_time(), cpu_seconds(proc.pid)
            rows.append(asyncio.run(load(url, phase, clients, args.batch, lanes, args.client)))
            # CPU seconds of the load generator (this process) and of the server's process
            # over the phase: the clients must not be what starves the server
            rows[-1]["client_cpu"] = time.process_time() - cpu[0]
            rows[-1]["server_cpu"] = cpu_seconds(proc.pid) - cpu[1]
            after = httpx.get(url + "/health?window=1").json()
            rows[-1]["scan_missed"] = after["slow_cheap"] - before["slow_cheap"]
            # the server's own count, from each request's arrival to its reply written (the
            # Server-Timing figures stop at the reply encoded): this phase's requests only
            rows[-1]["health_late"] = after["late"] - before["late"]
            rows[-1]["health_worst_over"] = after["window_worst_over_s"]
            print(rows[-1], flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    limit = ITEM_TIMEOUT_S + KILL_MARGIN_S
    print(f"\nMachine: {os.cpu_count()} cores, {platform.platform()}, Python "
          f"{platform.python_version()}; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"in-process `grade`: {base:.1f} grades/s; server: {args.workers} workers, batches "
          f"of {args.batch}, item limit {limit:g} s\n")  # fmt: skip
    print(f"| clients | grades/s | vs in-process | admitted p50 s | p99 s | max s (limit + 1 = "
          f"{limit + 1:g}) | past budget at the client (worst by s) | server's count: replies "
          "(worst) | /health (worst) | server read p99 / max s | outside the server p99 / max s "
          "| client loop lag max s | CPU s: clients / server | whole request p50 s | errors | "
          "429 retries | timed out | overloaded | expensive items (scan) | scan misses | "
          "hostile worst in worker s | hostile worst request s |")  # fmt: skip
    print(
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        health_worst = r["health_worst_over"]
        print(f"| {r['clients']} | {r['grades_s']:.1f} | {r['grades_s'] / base:.2f} | "
              f"{r['p50']:.3f} | {r['p99']:.3f} | {r['max']:.3f} | "
              f"{r['late']} ({r['worst_over_budget']:+.2f}) | "
              f"{r['server_late']} ({r['server_worst_over']:+.2f}) | "
              f"{r['health_late']} ({health_worst if health_worst is None else f'{health_worst:+.2f}'}) | "
              f"{r['read_p99']:.3f} / {r['read_max']:.3f} | "
              f"{r['outside_p99']:.3f} / {r['outside_max']:.3f} | {r['client_lag_max']:.3f} | "
              f"{r['client_cpu']:.1f} / {r['server_cpu']:.1f} | "
              f"{r['p50_total']:.3f} | "
              f"{r['errors']} | {r['retries_429']} | {r['timed_out']} | {r['overloaded']} | "
              f"{r['expensive']} | {r['scan_missed']} | "
              f"{r['hostile_worker_max']:.3f} | {r['hostile_request_max']:.3f} |")  # fmt: skip
    for r in rows:
        if r["error_kinds"]:
            print(f"errors at {r['clients']} clients: {r['error_kinds']}")


if __name__ == "__main__":
    main()
