"""Which requests the grading server takes, and in what order their items get its workers.

A request's items are split into **units**, each one worker's work: up to `ITEMS_PER_WORKER`
cheap items, or one expensive item (`sciinstruct.integrations.cost` marks items by a static
scan before they are queued). The scheduler hands a free worker to the oldest waiting unit,
except that expensive units hold at most `lanes` workers (all but one): cheap requests never
queue behind exponent towers, and a tower waits only for the towers ahead of it.

Admission replays that schedule on estimated costs. A cheap item costs the running average of
cheap items; an expensive one its whole hard limit (the rare items that run to their limit
cannot be averaged: they would be predicted short, and late). A request is admitted only if,
with the work already admitted ahead of it, its last unit would end within `slack` seconds
(less the recent peak of dispatch overhead) of when it ends on an idle server; otherwise 429 with a `Retry-After` of the excess. Its
**budget** is its hard limit, or that idle-server time if longer, plus `slack`: the limit + 1 s
for a batch with at most `lanes` expensive items, a limit per round of lanes beyond that. At
its turn a unit that could no longer end within its request's budget (the estimate was wrong:
an item the scan called cheap ran long) is answered overloaded instead of graded late.

A request's clock starts when it **arrived** (the server's handler saw its headers), not at
admission: the seconds it already spent having its body read and parsed are out of its slack,
and so is the recent peak of the event loop's lag (what a reply waits before its bytes are
written). Its lateness is counted by `finish`, once its reply is written, not at `release`.
Touched on the event loop only.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sciinstruct.integrations.http_errors import HTTPError

# What an admitted request may wait for the work admitted before it (the issue: "no request
# waits past its limit plus 1 s").
WAIT_SLACK_S = 1.0
# Items sent to one worker as one unit (sciinstruct.grading.sandbox's batch is 8): one pipe
# round trip for several cheap items.
ITEMS_PER_WORKER = 8
# Weight of each newly graded cheap item in their running average (about the last 20 items);
# a sample counts at most CLIP x the average, so one item the scan missed does not make the
# server shed load for the next hundred (while it runs, it is counted at its limit instead).
CHEAP_EWMA_ALPHA = 0.05
CLIP = 4.0
# A cheap item slower than this is one the static scan missed (reported by /health).
SLOW_CHEAP_S = 1.0
# How fast the remembered peak of a unit's dispatch overhead fades: by this factor per unit
# (a spike is forgotten over about 20 units, a few seconds under load).
OVERHEAD_DECAY = 0.9


class Cost(NamedTuple):
    """What admission knows of an item before it is graded."""

    limit: float  # its hard limit in a worker: timeout + kill margin
    expensive: bool  # the static scan's class


@dataclass(eq=False)
class Unit:
    """One worker's share of a request: the indexes of its items, all under one limit."""

    indexes: tuple[int, ...]
    expensive: bool
    limit: float
    deadline: float = 0.0  # monotonic instant its request's budget ends
    started: float | None = None
    _granted: Any = field(default=None, repr=False)  # an anyio.Event while it waits


@dataclass(frozen=True)
class Plan:
    """An admitted request: its units, queued, and the budget it is answered within."""

    units: tuple[Unit, ...]
    items: int
    budget_s: float
    deadline: float  # monotonic instant the budget ends
    arrived: float  # monotonic instant the request arrived (its budget counts from there)
    admitted_at: float  # monotonic instant it was admitted


class Admission:
    """Load shedding by the replayed schedule, and the scheduler it replays."""

    def __init__(
        self,
        workers: int,
        max_queue: int,
        slack: float = WAIT_SLACK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workers, self.max_queue, self.slack = workers, max_queue, slack
        self.clock = clock  # monotonic seconds; a test may hold it still
        self.lanes = max(1, workers - 1)  # workers expensive units may hold at once
        self.admitted = 0  # items waiting or being graded
        self.waiting: deque[Unit] = deque()
        self.running: list[Unit] = []
        self.cheap_s: float | None = None  # running average of a cheap item's time
        self.expensive_s: float | None = None  # the same of expensive ones (for the backstop)
        # recent peak of what dispatching a unit costs beyond its items' time in the worker
        # (thread hops, the pipe, a starved process): taken out of the slack a request may wait
        self.overhead_s = 0.0
        # recent peak of the event loop's lag (how late a timer fires): a request's reply waits
        # about that long for the loop before it is written, so it is out of the slack too
        self.lag_s = 0.0
        self.graded = {"cheap": 0, "expensive": 0}
        self.slow_cheap = 0
        # requests whose reply was written past their budget (from arrival), as this process
        # saw them; the worst since start and since the last `window()`
        self.late = 0
        self.worst_over_s: float | None = None  # the most a reply ended past (- : before)
        self.window_worst_s: float | None = None

    # -- admission --------------------------------------------------------------------------

    def admit(self, costs: Sequence[Cost], arrived: float | None = None) -> Plan:
        """Queue a request's items, or raise 413 (never fits) or 429 (not now). `arrived`: when
        the request reached the server (default now); the time since is out of its slack."""
        n = len(costs)
        if n > self.max_queue:  # could never be admitted: say so instead of 429 forever
            raise HTTPError(
                413, f"{n} items is more than the server queues ({self.max_queue}); split it"
            )
        units = _units(costs)
        if self.admitted + n > self.max_queue:
            per_item = self._cheap(max(c.limit for c in costs))
            drain = (self.admitted + n - self.max_queue) * per_item / self.workers
            raise HTTPError(
                429,
                f"grading queue full: {self.admitted} items waiting or running, room for "
                f"{self.max_queue}; retry later or send fewer items at once",
                {"Retry-After": self._retry_after(drain)},
            )
        now = self.clock()
        arrived = now if arrived is None else min(arrived, now)
        alone, delay = self._delay(units, now)
        # the slack less what dispatch costs, what the request already spent before admission
        # and what its reply will wait for the loop; an idle server (no delay) takes any request
        allowed = self.slack - self.overhead_s - self.lag_s - (now - arrived)
        if delay > 0 and delay > allowed:
            raise HTTPError(
                429,
                f"server busy: the work ahead would delay this request about {delay:.1f} s, "
                f"more than the {max(0.0, allowed):.2g} s a request may wait; retry later",
                {"Retry-After": self._retry_after(delay - allowed)},
            )
        # never less than its limit + slack: a unit late against the estimate, not the limit,
        # is still answered in time (the estimate sheds load; the budget is the promise)
        budget = max(alone, max(c.limit for c in costs)) + self.slack
        for unit in units:
            unit.deadline = arrived + budget
        self.admitted += n
        self.waiting.extend(units)
        self._grant()
        return Plan(tuple(units), n, budget, arrived + budget, arrived, now)

    def release(self, plan: Plan) -> None:
        """The request's items are graded (or abandoned): they leave the queue. Its lateness
        is counted by `finish`, once its reply is written."""
        self.admitted -= plan.items
        for unit in plan.units:
            self._drop(unit)
        self._grant()

    def finish(self, plan: Plan) -> float:
        """The request's reply is written: count it late if that is past its budget. Returns
        how far past (negative: before)."""
        over = self.clock() - plan.deadline
        self.late += over > 0
        self.worst_over_s = over if self.worst_over_s is None else max(self.worst_over_s, over)
        self.window_worst_s = (
            over if self.window_worst_s is None else max(self.window_worst_s, over)
        )
        return over

    def window(self) -> float | None:
        """The worst lateness since the last call (None: no request finished), and a new
        window: a benchmark's phase reads its own figure, not one left from before it."""
        worst, self.window_worst_s = self.window_worst_s, None
        return worst

    def wait_s(self, cost: Cost) -> float:
        """The delay a one-item request of this cost would be estimated now."""
        return self._delay(_units([cost]), self.clock())[1]

    def _delay(self, units: list[Unit], now: float) -> tuple[float, float]:
        """When `units` would end on an idle server, and how much later behind the work
        admitted now."""
        alone = max(self._replay(units, busy=False).values())
        return alone, max(self._replay(units, busy=True, now=now).values()) - alone

    def _replay(self, units: list[Unit], busy: bool, now: float = 0.0) -> dict[int, float]:
        """When each of `units` would end (seconds from now) if queued behind the admitted
        work (`busy`) or on an idle server: the scheduler's own policy on estimated costs."""
        workers = [[0.0, False] for _ in range(self.workers)]  # [free in s, holds expensive]
        queue = list(units)
        if busy:
            for slot, unit in zip(workers, self.running, strict=False):
                slot[:] = [self._left(unit, now), unit.expensive]
            queue = [*self.waiting, *units]
        ends: dict[int, float] = {}
        while queue:
            slot = min(workers, key=lambda s: s[0])
            t = slot[0]
            unit = self._next(queue, held=sum(1 for s in workers if s[1] and s[0] > t))
            if unit is None:  # only expensive units wait and the lanes are full: idle till one
                slot[0] = min(s[0] for s in workers if s[1] and s[0] > t)
                continue
            queue.remove(unit)
            slot[:] = [t + self._cost(unit), unit.expensive]
            ends[id(unit)] = slot[0]
        return {id(u): ends[id(u)] for u in units}

    def _cost(self, unit: Unit) -> float:
        return unit.limit if unit.expensive else len(unit.indexes) * self._cheap(unit.limit)

    def _left(self, unit: Unit, now: float) -> float:
        """What a running unit has left: its estimate less its time so far; for a cheap unit
        past twice its estimate (an item the scan missed, which may run to its limit), the
        rest of that limit."""
        elapsed = now - (unit.started or now)
        expected = self._cost(unit)
        if unit.expensive or elapsed <= 2 * expected + 0.1:
            return max(0.0, expected - elapsed)
        return max(0.0, unit.limit - elapsed) + expected

    def _cheap(self, limit: float) -> float:
        # unmeasured, an item is assumed to take its whole limit
        return limit if self.cheap_s is None else self.cheap_s

    def _retry_after(self, seconds: float) -> str:
        # whole seconds (HTTP's delay-seconds); unmeasured, the estimate is only a bound: 1
        if self.cheap_s is None:
            return "1"
        return str(min(60, max(1, math.ceil(seconds))))

    # -- scheduling -------------------------------------------------------------------------

    @asynccontextmanager
    async def turn(self, unit: Unit) -> AsyncIterator[None]:
        """Hold a worker for `unit` from its turn to the end of the block."""
        import anyio

        try:
            if unit.started is None:
                unit._granted = anyio.Event()
                await unit._granted.wait()
            yield
        finally:
            self._drop(unit)
            self._grant()

    def too_late(self, unit: Unit) -> bool:
        """Whether a unit at its turn would end past its request's budget at its expected
        time (then grading it only delays the units behind it)."""
        if unit.expensive:
            expected = unit.limit if self.expensive_s is None else self.expensive_s
        else:
            expected = self._cost(unit)
        return self.clock() + expected > unit.deadline

    def _grant(self) -> None:
        """Free workers go to the oldest waiting units; expensive ones up to `lanes`."""
        while len(self.running) < self.workers and self.waiting:
            unit = self._next(self.waiting, held=sum(u.expensive for u in self.running))
            if unit is None:
                return
            self.waiting.remove(unit)
            self.running.append(unit)
            unit.started = self.clock()
            if unit._granted is not None:
                unit._granted.set()

    def _next(self, queue: Sequence[Unit], held: int) -> Unit | None:
        """The oldest unit that may take a worker while `held` expensive units run: a cheap
        one always, an expensive one only while a lane is free. `_grant` and `_replay` both
        choose by it, so the estimate replays the very policy."""
        return next((u for u in queue if not u.expensive or held < self.lanes), None)

    def _drop(self, unit: Unit) -> None:
        if unit in self.running:
            self.running.remove(unit)
        elif unit in self.waiting:
            self.waiting.remove(unit)

    # -- measurement ------------------------------------------------------------------------

    def record_overhead(self, seconds: float) -> None:
        """A unit's wall time beyond its items' own: the peak is kept, fading."""
        self.overhead_s = max(seconds, self.overhead_s * OVERHEAD_DECAY)

    def record_lag(self, seconds: float) -> None:
        """How late one of the event loop's timers fired: the peak is kept, fading."""
        self.lag_s = max(seconds, self.lag_s * OVERHEAD_DECAY)

    def record(self, seconds: float, expensive: bool) -> None:
        """One item's time in a worker: a plain mean over a class's first items (so a cold
        first one weighs little), an exponential average after; cheap samples clipped."""
        kind = "expensive" if expensive else "cheap"
        self.graded[kind] += 1
        alpha = max(CHEAP_EWMA_ALPHA, 1 / self.graded[kind])
        if expensive:
            last = seconds if self.expensive_s is None else self.expensive_s
            self.expensive_s = last + alpha * (seconds - last)
            return
        self.slow_cheap += seconds > SLOW_CHEAP_S
        last = seconds if self.cheap_s is None else self.cheap_s
        if self.graded[kind] > 1 / CHEAP_EWMA_ALPHA:
            seconds = min(seconds, CLIP * last)
        self.cheap_s = last + alpha * (seconds - last)


def _units(costs: Sequence[Cost]) -> list[Unit]:
    """Expensive items one a unit (first: they are the long pole), cheap ones in runs of
    `ITEMS_PER_WORKER` per distinct limit (the pool gives one dispatch one limit)."""
    units = [Unit((i,), True, c.limit) for i, c in enumerate(costs) if c.expensive]
    for limit in sorted({c.limit for c in costs if not c.expensive}):
        same = [i for i, c in enumerate(costs) if not c.expensive and c.limit == limit]
        for start in range(0, len(same), ITEMS_PER_WORKER):
            units.append(Unit(tuple(same[start : start + ITEMS_PER_WORKER]), False, limit))
    return units
