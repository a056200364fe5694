"""Feed work to a backend in batches with several calls in flight.

`batch_size` is what one backend call receives (a batched engine's batch); `concurrency` is how
many calls run at once (what an HTTP server sees as parallel requests). Workers pull the next
batch as soon as they finish one, so a slow batch never holds the others back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sciinstruct.log import progress

T = TypeVar("T")


async def in_batches(
    items: Sequence[T],
    batch_size: int,
    concurrency: int,
    handle: Callable[[list[T]], Awaitable[None]],
    description: str,
) -> None:
    """Await `handle(batch)` for consecutive batches of `items`, `concurrency` at a time."""
    batches = [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]
    queue = iter(batches)  # shared by the workers; safe, they all run on this one event loop
    with progress() as bar:
        task = bar.add_task(description, total=len(items))

        async def worker() -> None:
            for batch in queue:
                await handle(batch)
                bar.advance(task, len(batch))

        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(batches)))))
