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

Before it is queued, each item gets a static cost class (`sciinstruct.integrations.cost`: a
scan for exponent towers, deep nesting, huge factorials), and `Admission` schedules and sheds
by it: expensive items never hold every worker, so cheap requests do not queue behind them, and
they count at their whole limit, so a request is admitted only if the work ahead would delay it
by at most `wait_slack_s` (1 s) past what it needs on an idle server: its budget, its limit +
1 s for an ordinary batch. Otherwise (or past `max_queue` items, the hard cap) it answers 429 at
once with a `Retry-After` of the excess, and a burst from a large cluster waits at the clients,
not in this process. A unit of work that at its turn can no longer end within its request's
budget (an item the scan called cheap ran long) is answered `timed_out` with the reason
`OVERLOADED` instead of being graded late. Bodies over `max_body_bytes` get 413. With a
`token`, every route but `/health` wants `Authorization: Bearer <token>`.

A request's budget counts from when its handler started (its body read and parsed inside it),
and its lateness from then to its reply written: each reply says so in a `Server-Timing`
header (`read`: arrival to admission, `grade`: admission to the last unit's end, `total`:
arrival to the reply encoded, `budget`; milliseconds), so a client can compare the server's
account of one request with its own. `/health` has `late` and the worst since start
(`worst_over_budget_s`) and since the previous `/health?window=1` (`window_worst_over_s`).
"""

from __future__ import annotations

import hmac
import json
import math
import os
from collections.abc import Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sciinstruct.errors import SciInstructError
from sciinstruct.grading.sandbox import WorkerPool, default_workers
from sciinstruct.integrations.admission import WAIT_SLACK_S, Admission, Cost, Plan, Unit
from sciinstruct.integrations.cost import item_rule
from sciinstruct.integrations.http_errors import HTTPError
from sciinstruct.integrations.openrlhf import response_of, to_protocol
from sciinstruct.integrations.scoring import DEFAULT_TIMEOUT_S, RewardSelection

# Added to an item's timeout before its worker is killed: the grader bounds its own work by the
# timeout, so only an item that escaped it (a hang in C code, a runaway regex) meets the kill.
KILL_MARGIN_S = 0.5
OVERLOADED = "not started within its limit: the server is overloaded"
# How often the event loop's lag is sampled (a timer this long, and how late it fires).
LAG_SAMPLE_S = 0.05


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


@dataclass(frozen=True)
class Item:
    """One item of a `/grade` batch, checked."""

    response: str
    reference: Any
    question: str | None
    finish_reason: str | None
    timeout: float


class GradingService:
    """The worker pool and the admission behind the routes."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        # a spare, so a worker killed at its limit is succeeded at once (see WorkerPool)
        self.pool = WorkerPool(config.workers, ops_module=config.ops_module, spare=True)
        # one unit per worker at a time (Admission's turn); the rest wait there, not in threads
        self.admission = Admission(config.workers, config.max_queue, config.wait_slack_s)

    def clock(self) -> float:
        return self.admission.clock()

    @property
    def admitted(self) -> int:
        return self.admission.admitted

    def warm(self) -> None:
        """Start every worker now, so the first requests do not pay the start-up."""
        task = ("score", ("1", "1", None, None, ["correctness"], [1.0], 5.0))
        self.pool.run([task] * self.config.workers, timeout=120.0)

    async def score(
        self, items: Sequence[Item], selection: RewardSelection, arrived: float | None = None
    ) -> tuple[list[dict[str, Any]], Plan | None]:
        """One score row per item, each graded under its own hard limit, and the request's
        admitted plan (None for no items): pass it to `admission.finish` once the reply is
        written. `arrived`: when the request reached the server (its budget counts from it)."""
        import anyio

        if not items:
            return [], None
        costs = [
            Cost(item.timeout + KILL_MARGIN_S, item_rule(item.response, item.reference) is not None)
            for item in items
        ]
        plan = self.admission.admit(costs, arrived)
        rows: list[dict[str, Any] | None] = [None] * len(items)

        async def run(unit: Unit) -> None:
            async with self.admission.turn(unit):
                if self.admission.too_late(unit):  # grading it now only delays the rest
                    for i in unit.indexes:
                        rows[i] = _failed("overloaded", unit.limit, selection)
                    return
                tasks = [_task(items[i], selection) for i in unit.indexes]
                outcomes = await anyio.to_thread.run_sync(self.pool.run, tasks, unit.limit, 1)
                wall = self.clock() - (unit.started or 0.0)
            for i, outcome in zip(unit.indexes, outcomes, strict=True):
                rows[i] = (
                    {**outcome.value, "timed_out": False}
                    if outcome.error is None
                    else _failed(outcome.error, unit.limit, selection)
                )
            # each item is charged its time in the worker and a share of the unit's overhead
            # (the pipe, the thread hops): what its worker was held for, which admission plans
            seconds = [rows[i]["elapsed_s"] or 0.0 for i in unit.indexes]  # type: ignore[index]
            overhead = max(0.0, wall - sum(seconds))
            self.admission.record_overhead(overhead)
            overhead /= len(seconds)
            for spent in seconds:
                self.admission.record(spent + overhead, unit.expensive)

        try:
            async with anyio.create_task_group() as group:
                for unit in plan.units:
                    group.start_soon(run, unit)
        finally:
            self.admission.release(plan)
        return rows, plan  # type: ignore[return-value]

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
    from starlette.background import BackgroundTask
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

    def answered(content: Any, arrived: float, plan: Plan | None) -> JSONResponse:
        """The reply, its `Server-Timing`, and its lateness counted once it is written."""
        graded = service.clock()
        response = JSONResponse(content)
        if plan is None:
            return response
        ms = {
            "read": plan.admitted_at - arrived,
            "grade": graded - plan.admitted_at,
            "total": service.clock() - arrived,  # the reply encoded, about to be written
            "budget": plan.budget_s,
        }
        response.headers["server-timing"] = ", ".join(
            f"{name};dur={seconds * 1000:.1f}" for name, seconds in ms.items()
        )
        response.background = BackgroundTask(service.admission.finish, plan)
        return response

    async def grade(request: Request) -> JSONResponse:
        arrived = service.clock()
        try:
            authorize(request)
            body = await read_json(request, config.max_body_bytes)
            items = parse_items(body, config)
            rows, plan = await service.score(items, _selection(body, config.selection), arrived)
        except HTTPError as exc:
            return refused(exc)
        return answered({"verdicts": rows}, arrived, plan)

    async def get_reward(request: Request) -> JSONResponse:
        arrived = service.clock()
        try:
            authorize(request)
            body = await read_json(request, config.max_body_bytes)
            items = openrlhf_items(body, config)
            rows, plan = await service.score(items, config.selection, arrived)
        except HTTPError as exc:
            return refused(exc)
        reply = to_protocol(rows, tensors=False)
        reply["extra_logs"]["timed_out"] = [float(r["timed_out"]) for r in rows]
        return answered(reply, arrived, plan)

    async def health(request: Request) -> JSONResponse:
        admission, limit = service.admission, config.item_timeout + KILL_MARGIN_S
        return JSONResponse(
            {
                "status": "ok",
                "pid": os.getpid(),  # tells Ray Serve replicas apart
                "workers": config.workers,
                "queued": service.admitted,
                "max_queue": config.max_queue,
                "lanes": admission.lanes,
                "service_s": admission.cheap_s,
                "expensive_s": admission.expensive_s,
                "overhead_s": round(admission.overhead_s, 4),
                "estimated_wait_s": round(admission.wait_s(Cost(limit, False)), 3),
                "estimated_wait_expensive_s": round(admission.wait_s(Cost(limit, True)), 3),
                "graded": dict(admission.graded),
                "slow_cheap": admission.slow_cheap,
                "late": admission.late,
                "worst_over_budget_s": admission.worst_over_s,
                # the worst since the previous ?window=1 read (which starts a new window)
                "window_worst_over_s": (
                    admission.window()
                    if request.query_params.get("window")
                    else admission.window_worst_s
                ),
                "loop_lag_s": round(admission.lag_s, 4),
                "rewards": list(config.selection.names),
            }
        )

    async def watch_loop() -> None:
        """Sample the event loop's lag: how late a short timer fires."""
        while True:
            start = service.clock()
            await anyio.sleep(LAG_SAMPLE_S)
            service.admission.record_lag(max(0.0, service.clock() - start - LAG_SAMPLE_S))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        await anyio.to_thread.run_sync(service.warm)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(watch_loop)
                yield
                group.cancel_scope.cancel()
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
