"""How many backend calls a stage keeps in flight on its executor.

The `--executor` options themselves are derived from `ExecutorConfig` by `config_options`.
"""

from __future__ import annotations

from sciinstruct.distributed.executor import Executor


def calls_in_flight(executor: Executor, backend: str, given: int | None) -> int | None:
    """Backend calls a stage keeps in flight on Ray: two per actor slot unless given, so each
    actor has its next call waiting while it serves one and never idles in between."""
    config = executor.config
    if given is not None or not config.is_ray:
        return given
    return 2 * executor.actor_count() * config.calls(backend)  # type: ignore[attr-defined]
