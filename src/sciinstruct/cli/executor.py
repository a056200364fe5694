"""The `--executor` options of annotate, critique and eval.

Defaults and help live on `ExecutorConfig` alone: an option left out is not passed, so the
dataclass's default applies, and the help shown is the field's own.
"""

from __future__ import annotations

import typer

from sciinstruct.cli.options import help_of
from sciinstruct.distributed.config import ExecutorConfig
from sciinstruct.distributed.executor import Executor


def _option(flag: str, field: str) -> typer.models.OptionInfo:
    return typer.Option(None, flag, help=help_of(ExecutorConfig, field), show_default=False)


EXECUTOR = _option("--executor", "name")
RAY_ADDRESS = _option("--ray-address", "address")
ACTORS = _option("--actors", "actors")
CPUS_PER_ACTOR = _option("--num-cpus-per-actor", "num_cpus_per_actor")
GPUS_PER_ACTOR = _option("--num-gpus-per-actor", "num_gpus_per_actor")


def executor_config(
    name: str | None,
    address: str | None,
    actors: int | None,
    cpus: float | None,
    gpus: float | None,
) -> ExecutorConfig:
    """The options given, over `ExecutorConfig`'s defaults (checked: one-line errors)."""
    given = {
        "name": name,
        "address": address,
        "actors": actors,
        "num_cpus_per_actor": cpus,
        "num_gpus_per_actor": gpus,
    }
    return ExecutorConfig(**{k: v for k, v in given.items() if v is not None})


def calls_in_flight(executor: Executor, backend: str, given: int | None) -> int | None:
    """Backend calls a stage keeps in flight on Ray: two per actor slot unless given, so each
    actor has its next call waiting while it serves one and never idles in between."""
    config = executor.config
    if given is not None or not config.is_ray:
        return given
    return 2 * executor.actor_count() * config.calls(backend)  # type: ignore[attr-defined]
