"""Which slots are ready to generate, fed as questions move through their stages.

A question's reflect slots become ready as soon as its own cot attempts are graded, not when
every question's cot is done, so a server never idles at a stage boundary waiting for the
slowest cot of the run. Ready slots are served first in, first out: later-stage work queues
behind the current stage's and fills the gap as that stage drains.

Within one run a slot is tried at most once: a generation that fails stays failed until the
next run (which retries it), so a backend that is down cannot loop the scheduler forever.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from sciinstruct.annotate.ledger import Ledger, Outcome, walk
from sciinstruct.annotate.stages import Slot, SlotKey, StagePlan
from sciinstruct.records import Question


class Scheduler:
    """Ready slots, slots in flight, and each question's current outcome."""

    def __init__(
        self,
        questions: Sequence[Question],
        ledger: Ledger,
        stages: Sequence[str],
        plan: StagePlan,
        on_ready: Callable[[str, int], None] = lambda stage, total: None,
    ) -> None:
        self.ledger, self.stages, self.plan = ledger, tuple(stages), plan
        self.on_ready = on_ready  # told a stage's total of slots so far (for progress bars)
        self.ready: deque[Slot] = deque()
        self.in_flight = 0
        self.outcomes: dict[str, Outcome] = {}
        self.enqueued: dict[str, int] = dict.fromkeys(self.stages, 0)
        self._open: dict[str, int] = {}  # question id -> its slots queued or in flight
        self._tried: set[SlotKey] = set()
        for question in questions:
            self._advance(question)

    @property
    def finished(self) -> bool:
        return not self.ready and self.in_flight == 0

    def take(self, n: int) -> list[Slot]:
        """Up to `n` ready slots, now in flight."""
        batch = [self.ready.popleft() for _ in range(min(n, len(self.ready)))]
        self.in_flight += len(batch)
        return batch

    def done(self, batch: Sequence[Slot]) -> None:
        """`batch` landed in the ledger: questions whose stage is complete move on."""
        self.in_flight -= len(batch)
        for slot in batch:
            qid = slot.question.id
            self._open[qid] -= 1
            if self._open[qid] == 0:
                self._advance(slot.question)

    def _advance(self, question: Question) -> None:
        outcome = walk(question, self.ledger, self.stages, self.plan)
        self.outcomes[question.id] = outcome
        fresh = [s for s in outcome.missing if s.key not in self._tried]
        self._tried.update(s.key for s in fresh)
        self._open[question.id] = len(fresh)
        self.ready.extend(fresh)
        if fresh and outcome.stage is not None:
            self.enqueued[outcome.stage] += len(fresh)
            self.on_ready(outcome.stage, self.enqueued[outcome.stage])
