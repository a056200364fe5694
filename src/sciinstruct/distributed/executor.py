"""Executors: what a stage asks for its engines and where it sends its grading.

A stage takes a backend and, optionally, a `grading` function that runs `fn(*args)` somewhere.
`LocalExecutor` builds the backend in this process and grades here (the default path);
`RayExecutor` builds a `RayBackend` over engine actors and grades in Ray tasks. Either way the
driver runs the same stage code, and it alone writes the run directory and the response cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sciinstruct.distributed.config import ExecutorConfig
from sciinstruct.errors import InputError, SciInstructError, require
from sciinstruct.llm.base import Backend
from sciinstruct.log import logger

INSTALL = 'pip install "sciinstruct[ray]"'


class Executor(Protocol):
    config: ExecutorConfig

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def backend(self, name: str, model: str | None, options: dict[str, Any]) -> Backend: ...

    async def agrade(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def grade(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def run_tasks(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]: ...

    def close(self) -> None: ...


class _Closing:
    """`with open_executor(config) as executor:` closes it (actors, a cluster started here)."""

    def close(self) -> None:  # overridden where there is something to release
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(_Closing):
    """This process: the backend is built here and grading runs here (annotate: in a thread)."""

    def __init__(self, config: ExecutorConfig | None = None) -> None:
        self.config = config or ExecutorConfig()

    def backend(self, name: str, model: str | None, options: dict[str, Any]) -> Backend:
        from sciinstruct.llm import make_backend

        return make_backend(name, model, **options)

    async def agrade(self, fn: Callable[..., Any], *args: Any) -> Any:
        import asyncio

        # CPU work off the event loop: the other workers' requests keep flowing meanwhile
        return await asyncio.to_thread(fn, *args)

    def grade(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def run_tasks(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`fn(item)` for each item, one after another; a failed item's SciInstructError is its
        result, so the others still run."""
        out: list[Any] = []
        for item in items:
            try:
                out.append(fn(item))
            except SciInstructError as exc:
                out.append(exc)
        return out


class RayExecutor(_Closing):
    """Engine actors and grading tasks on a Ray cluster (joined, or started here)."""

    def __init__(self, config: ExecutorConfig) -> None:
        self.config = config
        self._ray: Any = require("ray", "Ray", INSTALL)
        self._owns_cluster = not self._ray.is_initialized()
        if self._owns_cluster:
            self._ray.init(
                address=config.address,
                num_cpus=None if config.address else config.num_cpus,
                include_dashboard=False,
                logging_level="WARNING",
            )
        self._remote: dict[Callable[..., Any], Any] = {}
        self._backends: list[Backend] = []
        resources = self._ray.cluster_resources()
        logger.info(
            "ray: %g CPUs, %g GPUs in the cluster", resources.get("CPU", 0), resources.get("GPU", 0)
        )

    def actor_count(self) -> int:
        """`config.actors`, else as many as the cluster's GPUs (or CPUs) hold."""
        if self.config.actors:
            return self.config.actors
        resources = self._ray.cluster_resources()
        if self.config.num_gpus_per_actor > 0:
            n = int(resources.get("GPU", 0) // self.config.num_gpus_per_actor)
            what = f"{resources.get('GPU', 0):g} GPUs"
        elif self.config.num_cpus_per_actor > 0:
            n = int(resources.get("CPU", 0) // self.config.num_cpus_per_actor)
            what = f"{resources.get('CPU', 0):g} CPUs"
        else:
            raise InputError("give --actors when actors reserve no CPU or GPU", field="actors")
        if n < 1:
            raise InputError(f"the cluster's {what} hold no actor of this size", field="actors")
        return n

    def backend(self, name: str, model: str | None, options: dict[str, Any]) -> Backend:
        from sciinstruct.distributed.engines import MAX_RESTARTS, EngineActor, RayBackend

        calls = self.config.calls(name)
        actor_class = self._ray.remote(EngineActor).options(
            num_cpus=self.config.num_cpus_per_actor,
            num_gpus=self.config.num_gpus_per_actor,
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_RESTARTS,
            max_concurrency=calls,
        )
        cpus = self.config.num_cpus_per_actor
        actors = [actor_class.remote(name, model, options, cpus) for _ in range(self.actor_count())]
        try:
            identities = self._ray.get([a.identity.remote() for a in actors])
        except self._ray.exceptions.RayError as exc:
            for actor in actors:
                self._ray.kill(actor)
            raise SciInstructError(f"an engine actor failed to start: {_cause(exc)}") from None
        backend = RayBackend(actors, identities)
        logger.info("ray: %d engine actors serving %s:%s", len(actors), backend.name, backend.model)
        self._backends.append(backend)
        return backend

    def _task(self, fn: Callable[..., Any]) -> Any:
        if fn not in self._remote:
            # No CPU reserved: the engine actors may hold every CPU, and a grading task that
            # waited for one would stall the stage. Its symbolic work runs in the sandbox's
            # own subprocesses under the hard time limit (grading/sandbox.py).
            self._remote[fn] = self._ray.remote(num_cpus=0)(fn)
        return self._remote[fn]

    async def agrade(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.config.grade_in_workers:
            return await LocalExecutor().agrade(fn, *args)
        return await self._task(fn).remote(*args)

    def grade(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.config.grade_in_workers:
            return fn(*args)
        return self._ray.get(self._task(fn).remote(*args))

    def run_tasks(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """`fn(item)` for each item as a Ray task, side by side (shards: each task a driver of
        its own run directory). A task reserves what an engine actor would, since it holds its
        own engine; one whose worker dies is retried by Ray. A failed item's error is its
        result, so the others finish."""
        from sciinstruct.distributed.engines import MAX_RESTARTS

        remote = self._ray.remote(
            num_cpus=self.config.num_cpus_per_actor,
            num_gpus=self.config.num_gpus_per_actor,
            max_retries=MAX_RESTARTS,  # a lost worker; the item resumes from its own files
        )(fn)
        refs = [remote.remote(item) for item in items]
        out: list[Any] = []
        for ref in refs:
            try:
                out.append(self._ray.get(ref))
            except self._ray.exceptions.RayError as exc:
                cause = getattr(exc, "cause", None)  # the task's own error, as it raised it
                out.append(
                    cause if isinstance(cause, SciInstructError) else SciInstructError(_cause(exc))
                )
        return out

    def close(self) -> None:
        for backend in self._backends:
            backend.close()
        self._backends = []
        if self._owns_cluster and self._ray.is_initialized():
            self._ray.shutdown()


def _cause(exc: BaseException) -> str:
    """The first line of what went wrong inside the actor, without Ray's wrapping."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error:" in line and not line.startswith("ray.")]
    return (errors[-1] if errors else lines[0] if lines else type(exc).__name__)[:300]


def open_executor(config: ExecutorConfig | None = None) -> Executor:
    """The executor a config names: `local` (default) or `ray`."""
    config = config or ExecutorConfig()
    return RayExecutor(config) if config.is_ray else LocalExecutor(config)
