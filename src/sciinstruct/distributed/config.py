"""Where the LLM calls and the grading of annotate, critique and eval run: here, or on Ray.

One dataclass, shared by the CLI (`--executor ray --ray-address ... --actors N`) and the recipe
(`executor: {name: ray, actors: 4, num_gpus_per_actor: 1}`), with the help text on each field.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sciinstruct.errors import InputError, did_you_mean
from sciinstruct.settings import option

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutorConfig:
    """How a stage spreads its LLM calls and grading: one process, or actors on a Ray cluster."""

    name: str = option(
        "local", "`local` (this process) or `ray` (engine actors on a Ray cluster).",
        flag="--executor",
    )  # fmt: skip
    address: str | None = option(
        None, "Ray cluster to join (`auto`, `ray://host:10001`); unset: start a local cluster.",
        flag="--ray-address",
    )  # fmt: skip
    actors: int | None = option(
        None, "Engine actors (default: one per GPU with num_gpus_per_actor, else one per CPU)."
    )
    num_cpus_per_actor: float = option(1.0, "CPUs each engine actor reserves.")
    num_gpus_per_actor: float = option(
        0.0, "GPUs each engine actor reserves (vLLM with tensor_parallel_size=N: N)."
    )
    # Recipe-only: tuning knobs a command line does not need.
    calls_per_actor: int | None = option(
        None,
        "Backend calls one actor serves at once (default: the backend's own concurrency: 16 "
        "for a server's client, which the server batches; 1 for an in-process engine).",
        cli=False,
    )
    grade_in_workers: bool = option(
        True, "Grade in Ray tasks rather than in the driver.", cli=False
    )
    num_cpus: int | None = option(
        None, "CPUs of a local cluster started here (default: all); ignored with `address`.",
        cli=False,
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.name not in EXECUTORS:
            hint = did_you_mean(self.name, EXECUTORS)
            raise InputError(
                f"unknown executor {self.name!r}{f'; {hint}' if hint else ''} "
                f"(valid: {', '.join(EXECUTORS)})",
                field="executor.name",
            )
        if self.actors is not None and self.actors < 1:
            raise InputError(f"must be >= 1, got {self.actors}", field="executor.actors")
        if self.calls_per_actor is not None and self.calls_per_actor < 1:
            raise InputError(
                f"must be >= 1, got {self.calls_per_actor}", field="executor.calls_per_actor"
            )
        if self.num_cpus_per_actor < 0 or self.num_gpus_per_actor < 0:
            raise InputError(
                "num_cpus_per_actor and num_gpus_per_actor must be >= 0, got "
                f"{self.num_cpus_per_actor} and {self.num_gpus_per_actor}",
                field="executor",
            )

    @property
    def is_ray(self) -> bool:
        return self.name == "ray"

    def calls(self, backend: str) -> int:
        """Calls one actor serves at once for `backend`: as many as the backend itself takes in
        flight (a server's client many, an in-process engine one), unless set."""
        from sciinstruct.llm import backend_class

        return self.calls_per_actor or backend_class(backend).throughput.concurrency

    def calls_in_flight(self, actors: int, backend: str) -> int:
        """Backend calls a stage keeps in flight over `actors` actors: two per actor slot, so
        each actor has its next call waiting while it serves one and never idles in between."""
        return 2 * actors * self.calls(backend)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
