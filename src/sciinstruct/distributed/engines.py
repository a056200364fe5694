"""Engine actors and the driver-side backend that spreads requests over them.

`EngineActor` holds one backend of any kind (`make_backend` in the actor's process: llama.cpp or
transformers on CPUs, vLLM on its GPUs, an `openai` client of a server pool). `RayBackend` speaks
the project's backend protocol on the driver: a call is split over the actors (a prompt's k
samples stay together, so an engine reuses the prompt's KV cache) and each piece goes to the
actor with the fewest requests in flight. Its `name` and `model` are the engine's own, so the
driver's response cache keys are those of the local path: a run can move between the local path
and Ray and hit the same cache.

Ray restarts an actor whose process dies and re-sends the call it was serving
(`max_restarts`, `max_task_retries`); a call that still fails comes back as completions with
`error` set, as every backend's failures do, and the stage's next run retries them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sciinstruct.llm.balance import LeastBusy
from sciinstruct.llm.base import AsyncBackend, Completion, GenerationRequest, OnDone
from sciinstruct.llm.llamacpp import split_by_prompt
from sciinstruct.log import logger

# Restarts of a dead actor process, and re-sends of the call it was serving, before the call's
# requests come back as failed. Generation is idempotent (a request carries its seed).
MAX_RESTARTS = 3
LOG_EVERY_S = 30.0  # per-actor throughput lines in the log while a stage runs


class EngineActor:
    """One backend in a Ray actor's process (wrapped by `ray.remote` in `start_actors`)."""

    def __init__(
        self, name: str, model: str | None, options: dict[str, Any], num_cpus: float
    ) -> None:
        from sciinstruct.llm import make_backend
        from sciinstruct.log import quiet_libraries

        quiet_libraries()
        self.backend = make_backend(name, model, **fit_to_share(name, options, num_cpus))

    def identity(self) -> dict[str, Any]:
        import socket

        return {
            "name": self.backend.name,
            "model": self.backend.model,
            "node": socket.gethostname(),
            "pid": os.getpid(),
        }

    async def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        # agenerate: an openai client interleaves its calls on the actor's event loop; a
        # synchronous engine runs in a thread, `max_concurrency` calls at a time.
        return await self.backend.agenerate(requests)

    def close(self) -> None:
        self.backend.close()


def fit_to_share(name: str, options: dict[str, Any], num_cpus: float) -> dict[str, Any]:
    """The backend options an actor is built with: an in-process CPU engine fits its share.

    Locally llama.cpp sizes itself to the whole machine (one context per core); in an actor
    that reserved `num_cpus` it must not, or N actors would run N times as many threads as
    there are cores (bench/bench_engines.py: oversubscribed decoding runs at 1/7 the speed).
    """
    from sciinstruct.llm import embedded_engine

    out = dict(options)
    engine = (out.get("engine") or embedded_engine()) if name == "embedded" else name
    if engine == "llamacpp":  # decided here, in the actor: its node may lack llama.cpp
        threads = max(1, int(num_cpus))
        out.setdefault("n_threads", threads)
        out.setdefault("parallel", 1)
    if name == "vllm" and int(out.get("tensor_parallel_size", 1)) > 1:
        # the actor holds all N GPUs of its group; vLLM's own workers run as its subprocesses
        out.setdefault("distributed_executor_backend", "mp")
    return out


@dataclass
class ActorStats:
    """What one actor did, as the driver saw it: requests, tokens and busy seconds."""

    label: str
    requests: int = 0
    completion_tokens: int = 0
    failed: int = 0
    busy_s: float = 0.0  # calls as the driver timed them: sent until the answer arrived
    engine_s: float = 0.0  # the engine's own time for those requests (their `latency_s`)

    @property
    def overhead_s(self) -> float:
        """Driver-side call time the engine did not account for: Ray scheduling, the object
        store, (de)serialisation, and any wait in the actor's queue."""
        return max(0.0, self.busy_s - self.engine_s)

    def line(self) -> str:
        rate = self.completion_tokens / self.busy_s if self.busy_s else 0.0
        return (
            f"{self.label}: {self.requests} requests, {self.completion_tokens} tokens, "
            f"{rate:.1f} tok/s while busy, {self.failed} failed"
        )


class RayBackend(AsyncBackend):
    """The backend protocol over a pool of `EngineActor`s; see the module docstring."""

    def __init__(self, actors: Sequence[Any], identities: Sequence[dict[str, Any]]) -> None:
        if not actors:
            raise ValueError("RayBackend needs at least one actor")
        first = identities[0]
        others = {(i["name"], i["model"]) for i in identities} - {(first["name"], first["model"])}
        if others:  # a cache keyed by one model must not receive another's answers
            raise ValueError(f"actors serve different models: {first['model']} and {others}")
        self.name, self.model = first["name"], first["model"]
        self.actors = list(actors)
        self.stats = [
            ActorStats(f"actor {i} ({ident['node']} pid {ident['pid']})")
            for i, ident in enumerate(identities)
        ]
        self._pool: LeastBusy[int] = LeastBusy(list(range(len(self.actors))))
        self._lock = threading.Lock()
        self._logged = time.monotonic()

    def __repr__(self) -> str:
        return f"RayBackend({self.name}:{self.model}, actors={len(self.actors)})"

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        """Completions in order; `on_done(index, completion)` as each actor's piece lands (the
        cache stores a piece while the others still run)."""
        if not requests:
            return []
        shares = split_by_prompt(requests, len(self.actors))
        results: list[Completion] = [Completion() for _ in requests]

        async def piece(share: list[int]) -> None:
            for i, completion in zip(
                share, await self._call([requests[i] for i in share]), strict=True
            ):
                results[i] = completion
                if on_done is not None:
                    on_done(i, completion)

        await asyncio.gather(*(piece(share) for share in shares))
        self._maybe_log()
        return results

    async def _call(self, requests: list[GenerationRequest]) -> list[Completion]:
        from ray.exceptions import RayError

        with self._pool.pick(len(requests)) as index:
            start = time.perf_counter()
            try:
                completions = await self.actors[index].generate.remote(requests)
            except RayError as exc:  # actor lost for good, or its call kept failing
                reason = f"ray: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                completions = [Completion(error=reason) for _ in requests]
            busy = time.perf_counter() - start
        with self._lock:
            stats = self.stats[index]
            stats.requests += len(requests)
            stats.completion_tokens += sum(c.completion_tokens for c in completions)
            stats.failed += sum(not c.ok for c in completions)
            stats.busy_s += busy
            stats.engine_s += sum(c.latency_s for c in completions)
        return completions

    def _maybe_log(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._logged < LOG_EVERY_S:
            return
        self._logged = now
        for stats in self.stats:
            if stats.requests:
                logger.info("%s", stats.line())

    def close(self) -> None:
        import ray

        if not self.actors:
            return
        self._maybe_log(force=True)
        for actor in self.actors:
            with contextlib.suppress(Exception):  # a lost actor has nothing left to close
                ray.get(actor.close.remote(), timeout=60)
            ray.kill(actor)
        self.actors = []
