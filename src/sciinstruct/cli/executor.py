"""The `--executor` options of annotate, critique and eval; help text from `ExecutorConfig`."""

from __future__ import annotations

import dataclasses

import typer

from sciinstruct.distributed.config import ExecutorConfig
from sciinstruct.distributed.executor import Executor

_HELP = {f.name: f.metadata["help"] for f in dataclasses.fields(ExecutorConfig)}

EXECUTOR = typer.Option("local", "--executor", help=_HELP["name"])
RAY_ADDRESS = typer.Option(None, "--ray-address", help=_HELP["address"])
ACTORS = typer.Option(None, "--actors", help=_HELP["actors"])
CPUS_PER_ACTOR = typer.Option(1.0, "--num-cpus-per-actor", help=_HELP["num_cpus_per_actor"])
GPUS_PER_ACTOR = typer.Option(0.0, "--num-gpus-per-actor", help=_HELP["num_gpus_per_actor"])


def executor_config(
    name: str, address: str | None, actors: int | None, cpus: float, gpus: float
) -> ExecutorConfig:
    """The options above as a config (checked: a bad value is a one-line error)."""
    return ExecutorConfig(
        name=name, address=address, actors=actors, num_cpus_per_actor=cpus, num_gpus_per_actor=gpus
    )


def calls_in_flight(executor: Executor, backend: str, given: int | None) -> int | None:
    """Backend calls a stage keeps in flight on Ray: two per actor slot unless given, so each
    actor has its next call waiting while it serves one and never idles in between."""
    config = executor.config
    if given is not None or not config.is_ray:
        return given
    return 2 * executor.actor_count() * config.calls(backend)  # type: ignore[attr-defined]
