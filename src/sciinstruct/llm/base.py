"""The one protocol every LLM backend speaks.

A backend takes a batch of requests and returns one completion per request, in order. Failure of
one request never raises: it comes back as a Completion with `error` set, so that a stage can
record it (with its reason) and go on. Batched sync `generate` and async `agenerate` are both
part of the protocol; a backend implements whichever is natural and the other is derived.

Both take an optional `on_done(index, completion)` callback that the backend calls as each
completion finishes, before the whole batch returns: the response cache stores every completion
at that moment, so a run killed in the middle of a batch keeps (and never pays for again) what
the batch had already finished.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

Message = dict[str, str]


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings. `seed` makes a sample reproducible and distinguishes k samples in the
    cache: sample i of a question should use `seed = base_seed + i`."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512
    seed: int | None = 0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class GenerationRequest:
    """A chat prompt and how to sample from it."""

    messages: tuple[Message, ...] | list[Message]
    params: SamplingParams = field(default_factory=SamplingParams)

    def messages_list(self) -> list[Message]:
        return [dict(m) for m in self.messages]


@dataclass
class Completion:
    """The answer to one request. `error` is set (and `text` empty) when generation failed."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def cache_key(backend: str, model: str, request: GenerationRequest) -> str:
    """Key of a request in the response cache: backend, model, messages, sampling params, seed."""
    payload = {
        "backend": backend,
        "model": model,
        "messages": request.messages_list(),
        "params": request.params.to_dict(),
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Throughput:
    """How hard a stage drives a backend: requests per backend call, and calls in flight.

    The backend class declares its own (`throughput`); `EngineSpec.throughput` fits it to what
    the user asked for. So no caller decides how to drive an engine by its name.
    """

    batch_size: int
    concurrency: int

    @property
    def in_flight(self) -> int:
        """Requests in flight at once when every call is busy."""
        return self.batch_size * self.concurrency


# An in-process engine wants the whole batch at once and runs one batch at a time anyway.
IN_PROCESS = Throughput(batch_size=16, concurrency=1)
# A server batches concurrent requests itself (continuous batching): one request per call keeps
# it full without waiting on a batch's slowest member, and 16 in flight fill a small server.
SERVER = Throughput(batch_size=1, concurrency=16)


OnDone = Callable[[int, "Completion"], None]
"""Told each completion as it finishes: its index in the batch, and the completion."""


def report_each(completions: list[Completion], on_done: OnDone | None) -> list[Completion]:
    """Tell `on_done` about every completion of a batch that finished all at once."""
    if on_done is not None:
        for index, completion in enumerate(completions):
            on_done(index, completion)
    return completions


@functools.cache
def _takes_on_done(function: Callable[..., object]) -> bool:
    try:
        return "on_done" in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False


def reports_each(method: Callable[..., object]) -> bool:
    """Whether a backend's `generate`/`agenerate` accepts `on_done` (every backend of this
    package does; a caller's own backend may not, and is then told nothing until it returns)."""
    return _takes_on_done(getattr(method, "__func__", method))


@runtime_checkable
class Backend(Protocol):
    """What every backend provides. `name` and `model` identify it in the cache and in records."""

    name: str
    model: str

    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]: ...

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]: ...

    def close(self) -> None: ...


class SyncBackend(abc.ABC):
    """Base for backends whose engine is synchronous (llama.cpp, transformers, vLLM offline).

    `agenerate` runs the batch in a worker thread so an event loop stays responsive.
    """

    name: str = "sync"
    model: str = ""
    # not a server: the stage runs whole batches, one at a time
    is_server: ClassVar[bool] = False
    throughput: ClassVar[Throughput] = IN_PROCESS

    @abc.abstractmethod
    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        """Generate one completion per request, in order; failures come back with `error`.
        `on_done` is called (from any thread) as each completion finishes."""

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        if on_done is None or reports_each(self.generate):
            return await asyncio.to_thread(self.generate, requests, on_done)
        # A subclass written before `on_done` existed: report the batch when it returns.
        out = await asyncio.to_thread(self.generate, requests)
        for i, completion in enumerate(out):
            on_done(i, completion)
        return out

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release the engine. Subclasses with resources override this."""


class AsyncBackend(abc.ABC):
    """Base for backends that are naturally async (HTTP clients, Ray actors)."""

    name: str = "async"
    model: str = ""
    is_server: ClassVar[bool] = False
    throughput: ClassVar[Throughput] = IN_PROCESS

    @abc.abstractmethod
    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        """Generate one completion per request, in order; failures come back with `error`.
        `on_done` is called on the event loop as each completion finishes."""

    def generate(
        self, requests: Sequence[GenerationRequest], on_done: OnDone | None = None
    ) -> list[Completion]:
        return asyncio.run(self.agenerate(requests, on_done))

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release connections. Subclasses with resources override this."""


class ServerBackend(AsyncBackend):
    """Base for clients of a server that batches concurrent requests itself.

    Its constructor takes `concurrency`, the requests it keeps in flight; a stage keeps that
    many calls of one request each in flight (`SERVER`), so the two always agree.
    """

    is_server: ClassVar[bool] = True
    throughput: ClassVar[Throughput] = SERVER
