"""The grading server: sciinstruct's scoring over HTTP, for RL clusters that grade off the GPUs.

Three routes (a Starlette app; `sciinstruct serve-grader` runs it on uvicorn or Ray Serve):

- `POST /grade` `{"items": [{"response", "reference", "question"?, "finish_reason"?,
  "timeout"?}, ...], "rewards"?: [...], "weights"?: [...]}` answers `{"verdicts": [...]}`, one
  score row per item (`sciinstruct.integrations.scoring`) plus `timed_out` and `elapsed_s` (the
  seconds its worker spent on it). Each item carries
  its own reference: a string, or `{"answer", "unit", "answer_type", "choices", "tolerance"}`.
- `POST /get_reward` speaks OpenRLHF's remote reward protocol: `{"query", "prompts", "labels"}`
  in, `{"rewards", "scores", "extra_logs"}` out (`--remote_rm_url http://host:port/get_reward`).
- `GET /health`: this process, its workers, its queue and the rewards served.

Every item is graded in a worker process (`sciinstruct.grading.sandbox.WorkerPool` over
`grade_ops`) under a hard limit, its timeout plus a margin: a worker still busy then is killed
and replaced and the item is answered `timed_out`, so no completion, however hostile, holds a
worker or the server.

Admission sheds load by the estimated wait (`Admission`): from an average of an item's service
time and what the running requests have left, the server admits a request only if the work
already admitted ahead of it would drain within `wait_slack_s` (1 s), so that each of its
items, started then, ends within its hard limit + 1 s. Otherwise (or past `max_queue` items, the hard cap) it answers 429 at once
with a `Retry-After` from the estimated drain time, and a burst from a large cluster waits at
the clients, not in this process. An item whose request has nonetheless waited past its limit
+ the slack before its turn (the estimate was wrong: hostile items that ran to their limit) is
answered `timed_out` with the reason `OVERLOADED` instead of being graded late. Bodies over
`max_body_bytes` get 413. With a `token`, every route but `/health` wants `Authorization:
Bearer <token>`.
"""

from __future__ import annotations

import hmac
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sciinstruct.errors import SciInstructError
from sciinstruct.grading.sandbox import WorkerPool, default_workers
from sciinstruct.integrations.openrlhf import response_of, to_protocol
from sciinstruct.integrations.scoring import DEFAULT_TIMEOUT_S, RewardSelection

# Added to an item's timeout before its worker is killed: the grader bounds its own work by the
# timeout, so only an item that escaped it (a hang in C code, a runaway regex) meets the kill.
KILL_MARGIN_S = 0.5
# What an admitted request may wait for the work admitted before it: each of its items, started
# then, ends within its hard limit plus this (the issue: "no request past its limit + 1 s").
WAIT_SLACK_S = 1.0
# Weights of each newly graded item in the two averages of service time, the larger of which is
# the estimate: a fast one (about the last 20 items) that sees a slowdown at once, and a slow
# one (about the last 500) that remembers the rare items that run to their limit, which are
# few but most of the work (1 in 300 items of 5 s are 2/3 of it when the rest take 2.5 ms).
SERVICE_EWMA_ALPHA = (0.05, 0.002)
# Tasks the pool sends a worker at once (sciinstruct.grading.sandbox's batch): a request of
# this many items or fewer takes one worker, not all of them, so requests grade side by side.
ITEMS_PER_WORKER = 8
OVERLOADED = "not started within its limit: the server is overloaded"


@dataclass(frozen=True)
class ServerConfig:
    """What one server (one replica, on Ray Serve) grades with and how much it takes in."""

    workers: int = field(default_factory=default_workers)
    max_queue: int = 1024
    wait_slack_s: float = WAIT_SLACK_S
    max_body_bytes: int = 16 * 1024 * 1024
    item_timeout: float = DEFAULT_TIMEOUT_S
    max_item_timeout: float = 60.0
    selection: RewardSelection = RewardSelection()
    token: str | None = field(default=None, repr=False)  # never printed with the config
    ops_module: str = "sciinstruct.integrations.grade_ops"

    def __post_init__(self) -> None:
        for name in ("workers", "max_queue", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.item_timeout <= self.max_item_timeout:
            raise ValueError(
                f"item_timeout must be in (0, max_item_timeout={self.max_item_timeout:g}], "
                f"got {self.item_timeout:g}"
            )
        if not self.wait_slack_s > 0:
            raise ValueError(f"wait_slack_s must be positive, got {self.wait_slack_s:g}")


class HTTPError(Exception):
    """A request refused with a status code and a message for the client."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


@dataclass(frozen=True)
class Item:
    """One item of a `/grade` batch, checked."""

    response: str
    reference: Any
    question: str | None
    finish_reason: str | None
    timeout: float


class Admission:
    """Which requests the server takes: load shedding by the estimated wait.

    `service_s` is a running average of one item's time in a worker (None until an item
    has been graded; till then an item is assumed to take its whole hard limit). The work ahead
    of a new request is `admitted x service_s / workers` seconds; the request is admitted if
    that is within `slack` s (its items then start in time to end within their limit + slack;
    those past its first `workers` wait only for its own), or if nothing is admitted at all (an idle server takes any request it can queue, which is
    also how the first measurement is made). Touched on the event loop only.
    """

    def __init__(self, workers: int, max_queue: int, slack: float = WAIT_SLACK_S) -> None:
        self.workers, self.max_queue, self.slack = workers, max_queue, slack
        self.admitted = 0  # items waiting or being graded
        self.service_s: float | None = None
        self._averages = [0.0, 0.0]
        self.measured = 0
        self._running: dict[int, tuple[float, int, float]] = {}  # started, items, limit
        self._ids = 0

    def wait_s(self, limit: float) -> float:
        """Estimated seconds until the work admitted so far has drained: the items waiting
        at the average time each, and what the running dispatches have left: their items'
        average time, or, for one that has run past twice that (a slow item, which may run
        to its limit), the rest of its limit."""
        per_item = limit if self.service_s is None else self.service_s
        now = time.monotonic()
        work = (self.admitted - sum(n for _, n, _ in self._running.values())) * per_item
        for started, n, item_limit in self._running.values():
            elapsed, expected = now - started, n * per_item
            left = expected - elapsed if elapsed <= 2 * expected else item_limit - elapsed
            work += max(0.0, left)
        return work / self.workers

    def start(self, n: int, limit: float) -> int:
        """A dispatch of `n` admitted items under `limit` begins; its key for `finish`."""
        self._ids += 1
        self._running[self._ids] = (time.monotonic(), n, limit)
        return self._ids

    def finish(self, key: int) -> None:
        del self._running[key]

    def admit(self, n: int, limit: float) -> None:
        """Count `n` items (the largest hard limit among them `limit`) in, or raise 413/429."""
        if n > self.max_queue:  # could never be admitted: say so instead of 429 forever
            raise HTTPError(
                413, f"{n} items is more than the server queues ({self.max_queue}); split it"
            )
        if self.admitted + n > self.max_queue:
            per_item = limit if self.service_s is None else self.service_s
            drain = (self.admitted + n - self.max_queue) * per_item / self.workers
            raise HTTPError(
                429,
                f"grading queue full: {self.admitted} items waiting or running, room for "
                f"{self.max_queue}; retry later or send fewer items at once",
                {"Retry-After": self._retry_after(drain)},
            )
        wait = self.wait_s(limit)
        if self.admitted and wait > self.slack:
            raise HTTPError(
                429,
                f"server busy: the {self.admitted} items ahead would take about {wait:.1f} s, "
                f"more than the {self.slack:g} s a request may wait; retry later",
                {"Retry-After": self._retry_after(wait - self.slack)},
            )
        self.admitted += n

    def release(self, n: int) -> None:
        self.admitted -= n

    def record(self, seconds: float) -> None:
        """One item's time in a worker: a plain mean over the first items (so a cold first one
        weighs little), exponential averages after, the larger of which counts."""
        self.measured += 1
        for k, alpha in enumerate(SERVICE_EWMA_ALPHA):
            alpha = max(alpha, 1 / self.measured)
            self._averages[k] += alpha * (seconds - self._averages[k])
        self.service_s = max(self._averages)

    def _retry_after(self, seconds: float) -> str:
        # whole seconds (HTTP's delay-seconds); unmeasured, the estimate is only a bound: 1
        if self.service_s is None:
            return "1"
        return str(min(60, max(1, math.ceil(seconds))))


class GradingService:
    """The worker pool and the admission behind the routes."""

    def __init__(self, config: ServerConfig) -> None:
        import anyio

        self.config = config
        self.pool = WorkerPool(config.workers, ops_module=config.ops_module)
        # one blocking dispatch per worker at a time; the rest wait here, not in threads
        self.limiter = anyio.CapacityLimiter(config.workers)
        self.admission = Admission(config.workers, config.max_queue, config.wait_slack_s)

    @property
    def admitted(self) -> int:
        return self.admission.admitted

    def warm(self) -> None:
        """Start every worker now, so the first requests do not pay the start-up."""
        task = ("score", ("1", "1", None, None, ["correctness"], [1.0], 5.0))
        self.pool.run([task] * self.config.workers, timeout=120.0)

    async def score(
        self, items: Sequence[Item], selection: RewardSelection
    ) -> list[dict[str, Any]]:
        """One score row per item, each graded under its own hard limit."""
        import anyio

        n = len(items)
        if not n:
            return []
        arrived = time.monotonic()
        self.admission.admit(n, max(item.timeout for item in items) + KILL_MARGIN_S)
        try:
            rows: list[dict[str, Any] | None] = [None] * n

            async def dispatch(timeout: float) -> None:
                # the pool gives one dispatch's tasks one limit: one dispatch per distinct limit
                indexes = [i for i, item in enumerate(items) if item.timeout == timeout]
                limit = timeout + KILL_MARGIN_S
                async with self.limiter:  # its turn: the dispatch's items are about to start
                    if time.monotonic() - arrived > limit + self.config.wait_slack_s:
                        # waited past its budget already: grading it now only delays the rest
                        for i in indexes:
                            rows[i] = _failed("overloaded", limit, selection)
                        return
                    tasks = [_task(items[i], selection) for i in indexes]
                    parallel = min(self.config.workers, -(-len(tasks) // ITEMS_PER_WORKER))
                    key = self.admission.start(len(tasks), limit)
                    try:
                        outcomes = await anyio.to_thread.run_sync(
                            self.pool.run, tasks, limit, parallel
                        )
                    finally:
                        self.admission.finish(key)
                for i, outcome in zip(indexes, outcomes, strict=True):
                    rows[i] = (
                        {**outcome.value, "timed_out": False}
                        if outcome.error is None
                        else _failed(outcome.error, limit, selection)
                    )
                    seconds = rows[i]["elapsed_s"]  # type: ignore[index]
                    if seconds is not None:
                        self.admission.record(seconds)

            async with anyio.create_task_group() as group:
                for timeout in {item.timeout for item in items}:
                    group.start_soon(dispatch, timeout)
            return rows  # type: ignore[return-value]
        finally:
            self.admission.release(n)

    def close(self) -> None:
        self.pool.close()


def _task(item: Item, selection: RewardSelection) -> tuple[str, tuple[Any, ...]]:
    args = (
        item.response,
        item.reference,
        item.question,
        item.finish_reason,
        list(selection.names),
        list(selection.weights),
        item.timeout,
    )
    return ("score", args)


def _failed(error: str, limit: float, selection: RewardSelection) -> dict[str, Any]:
    """The row of an item its worker did not answer: scored 0, never a data error."""
    timed_out = error in ("timeout", "deadline", "overloaded")
    if error == "overloaded":
        reason = OVERLOADED
    elif timed_out:
        reason = f"grading took longer than {limit:g} s; its worker was killed and replaced"
    else:
        reason = f"grading failed: {error}"
    row: dict[str, Any] = {
        "score": 0.0,
        "acc": 0.0,
        "pred": "",
        "reason": reason,
        "answer_type": "auto",
        "data_error": False,
        "fallback": False,
        "certain": False,
    }
    row.update({f"reward_{n}": 0.0 for n in selection.names if n != "correctness"})
    row["timed_out"] = timed_out
    row["elapsed_s"] = limit if timed_out and error != "overloaded" else None
    return row


def parse_items(body: Any, config: ServerConfig) -> list[Item]:
    """The `items` of a `/grade` body, each field checked; a bad one is a 400 naming it."""
    if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
        raise HTTPError(400, 'body must be a JSON object with an "items" list')
    items = []
    for i, raw in enumerate(body["items"]):
        where = f"items[{i}]"
        if not isinstance(raw, Mapping):
            raise HTTPError(400, f"{where}: expected an object")
        unknown = sorted(
            set(raw) - {"response", "reference", "question", "finish_reason", "timeout"}
        )
        if unknown:
            raise HTTPError(400, f"{where}: unknown field(s) {', '.join(unknown)}")
        if not isinstance(raw.get("response"), str):
            raise HTTPError(400, f"{where}.response: expected a string")
        if "reference" not in raw or raw["reference"] is None:
            raise HTTPError(400, f"{where}.reference: required (a string or an object)")
        for key in ("question", "finish_reason"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise HTTPError(400, f"{where}.{key}: expected a string")
        items.append(
            Item(
                response=raw["response"],
                reference=raw["reference"],
                question=raw.get("question"),
                finish_reason=raw.get("finish_reason"),
                timeout=_timeout(raw.get("timeout"), where, config),
            )
        )
    return items


def _timeout(value: Any, where: str, config: ServerConfig) -> float:
    if value is None:
        return config.item_timeout
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not 0 < value <= config.max_item_timeout:
        raise HTTPError(
            400, f"{where}.timeout: expected seconds in (0, {config.max_item_timeout:g}]"
        )
    return float(value)


def _selection(body: Mapping[str, Any], default: RewardSelection) -> RewardSelection:
    """A request's own rewards: registry names only, never `module:function`, which would let a
    client make the server import any module."""
    if body.get("rewards") is None and body.get("weights") is None:
        return default
    names = body.get("rewards") or list(default.names)
    if not isinstance(names, list) or not all(isinstance(n, str) and ":" not in n for n in names):
        raise HTTPError(400, "rewards: expected a list of registered reward names")
    try:
        return RewardSelection.of(names, body.get("weights"))
    except (SciInstructError, ValueError, TypeError) as exc:
        raise HTTPError(400, f"rewards: {exc}") from None


def openrlhf_items(body: Any, config: ServerConfig) -> list[Item]:
    """OpenRLHF's `{"query", "prompts", "labels"}` as items (the response is the query past its
    prompt)."""
    if not isinstance(body, Mapping):
        raise HTTPError(400, 'body must be a JSON object with "query", "prompts" and "labels"')
    queries, prompts, labels = body.get("query"), body.get("prompts"), body.get("labels")
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise HTTPError(400, "query: expected a list of strings")
    if prompts is None:
        prompts = [None] * len(queries)
    if not isinstance(prompts, list) or len(prompts) != len(queries):
        raise HTTPError(400, f"prompts: expected a list of {len(queries)} strings, as query")
    if not isinstance(labels, list) or len(labels) != len(queries):
        raise HTTPError(400, f"labels: expected a list of {len(queries)} references, as query")
    return [
        Item(
            response=response_of(q, p if isinstance(p, str) else None),
            reference=label,
            question=p if isinstance(p, str) else None,
            finish_reason=None,
            timeout=config.item_timeout,
        )
        for q, p, label in zip(queries, prompts, labels, strict=True)
    ]


async def read_json(request: Any, limit: int) -> Any:
    """The request's JSON body, refused with 413 past `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"body of {int(declared)} bytes is over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nesting too deep: Recursion
        raise HTTPError(400, f"body is not valid JSON ({type(exc).__name__}: {exc})") from None


def create_app(config: ServerConfig) -> Any:
    """The Starlette app; it starts its workers on startup and stops them on shutdown."""
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    service = GradingService(config)

    def authorize(request: Request) -> None:
        if config.token is None:
            return
        given = request.headers.get("authorization", "")
        expected = f"Bearer {config.token}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPError(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})

    def refused(exc: HTTPError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    async def grade(request: Request) -> JSONResponse:
        try:
            authorize(request)
            body = await read_json(request, config.max_body_bytes)
            items = parse_items(body, config)
            rows = await service.score(items, _selection(body, config.selection))
        except HTTPError as exc:
            return refused(exc)
        return JSONResponse({"verdicts": rows})

    async def get_reward(request: Request) -> JSONResponse:
        try:
            authorize(request)
            body = await read_json(request, config.max_body_bytes)
            rows = await service.score(openrlhf_items(body, config), config.selection)
        except HTTPError as exc:
            return refused(exc)
        reply = to_protocol(rows, tensors=False)
        reply["extra_logs"]["timed_out"] = [float(r["timed_out"]) for r in rows]
        return JSONResponse(reply)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "pid": os.getpid(),  # tells Ray Serve replicas apart
                "workers": config.workers,
                "queued": service.admitted,
                "max_queue": config.max_queue,
                "service_s": service.admission.service_s,
                "estimated_wait_s": round(
                    service.admission.wait_s(config.item_timeout + KILL_MARGIN_S), 3
                ),
                "rewards": list(config.selection.names),
            }
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        await anyio.to_thread.run_sync(service.warm)
        try:
            yield
        finally:
            service.close()

    app = Starlette(
        routes=[
            Route("/grade", grade, methods=["POST"]),
            Route("/get_reward", get_reward, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return app
