"""Spreading requests over several servers (or Ray engine actors) of one model.

Each request goes to the server with the fewest requests in flight from this backend, ties
broken in turn. Counting per request rather than per call matters: a caller that sends one
request per call (annotate with `batch_size=1`, four calls in flight) would otherwise land every
request on the first server and leave the others idle. Choosing by load rather than in strict
turn keeps a server that drew a long generation from queueing work the others could take.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")  # a server URL, or an engine actor (sciinstruct.distributed)


class LeastBusy(Generic[T]):
    """The server with the fewest requests in flight, counted across every call and thread."""

    def __init__(self, urls: Sequence[T]) -> None:
        if not urls:
            raise ValueError("LeastBusy needs at least one URL")
        self.urls = list(urls)
        self.in_flight = [0] * len(self.urls)
        self._turn = 0  # where the search for the least busy starts: ties go round in turn
        self._lock = threading.Lock()  # generate() may run in several threads' event loops

    @contextlib.contextmanager
    def pick(self, weight: int = 1) -> Iterator[T]:
        """A URL to send `weight` requests to, counted as busy until the block ends."""
        n = len(self.urls)
        with self._lock:
            order = [(self._turn + k) % n for k in range(n)]
            self._turn = (self._turn + 1) % n
            index = min(order, key=self.in_flight.__getitem__)
            self.in_flight[index] += weight
        try:
            yield self.urls[index]
        finally:
            with self._lock:
                self.in_flight[index] -= weight
