"""Which slots are ready to generate, fed as questions move through their stages.

A question's reflect slots become ready as soon as its own cot attempts are graded, not when
every question's cot is done, so a server never idles at a stage boundary waiting for the
slowest cot of the run. Ready slots are served first in, first out: later-stage work queues
behind the current stage's and fills the gap as that stage drains.

Questions are read as they are needed: at most `window` are in progress at once, enough to
keep every call in flight busy, and a question leaves memory when it is settled. So the
driver's memory and its cost per attempt do not grow with the number of questions.

Within one run a slot is tried at most once: a generation that fails stays failed until the
next run (which retries it), so a backend that is down cannot loop the scheduler forever.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence

from sciinstruct.annotate.ledger import Ledger, Outcome, walk
from sciinstruct.annotate.stages import Slot, SlotKey, StagePlan
from sciinstruct.records import Question


class Scheduler:
    """Ready slots, slots in flight, the questions in progress and where the others ended.

    `questions` counts the questions read so far; `settled` counts their final outcomes:
    `solved:<stage>`, `unsolved`, `ungradable`, `failed` (a slot failed to generate and
    was not retried in this run) or `pending`.
    """

    def __init__(
        self,
        questions: Iterable[Question],
        ledger: Ledger,
        stages: Sequence[str],
        plan: StagePlan,
        on_ready: Callable[[str, int], None] = lambda stage, total: None,
        window: int = 1024,
    ) -> None:
        self.ledger, self.stages, self.plan = ledger, tuple(stages), plan
        self.on_ready = on_ready  # told a stage's total of slots so far (for progress bars)
        self.window = max(1, window)
        self.ready: deque[Slot] = deque()
        self.in_flight = 0
        self.questions = 0
        self.settled: Counter[str] = Counter()
        self.enqueued: dict[str, int] = dict.fromkeys(self.stages, 0)
        self._source = iter(questions)
        self._active: dict[str, Question] = {}  # question id -> the question, in progress
        self._open: dict[str, int] = {}  # question id -> its slots queued or in flight
        self._tried: dict[str, set[SlotKey]] = {}  # question id -> slots sent in this run
        self._fill()

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
                self._advance(self._active[qid])
        self._fill()

    def close(self) -> None:
        """Settle the questions still in progress (a run stopped early) as they stand."""
        for question in list(self._active.values()):
            self._settle(question, walk(question, self.ledger, self.stages, self.plan))

    def _fill(self) -> None:
        """Read questions until `window` are in progress or the source is exhausted."""
        while len(self._active) < self.window:
            question = next(self._source, None)
            if question is None:
                return
            if question.id in self._active:
                continue  # the same question twice in the source: once is enough
            self.questions += 1
            self._active[question.id] = question
            self._tried[question.id] = set()
            self.ledger.open(question.id)
            self._advance(question)

    def _advance(self, question: Question) -> None:
        outcome = walk(question, self.ledger, self.stages, self.plan)
        tried = self._tried[question.id]
        fresh = [s for s in outcome.missing if s.key not in tried]
        if not fresh:  # settled, or waiting on slots that failed in this run
            self._settle(question, outcome)
            return
        tried.update(s.key for s in fresh)
        self._open[question.id] = len(fresh)
        self.ready.extend(fresh)
        assert outcome.stage is not None  # pending outcomes name their stage
        self.enqueued[outcome.stage] += len(fresh)
        self.on_ready(outcome.stage, self.enqueued[outcome.stage])

    def _settle(self, question: Question, outcome: Outcome) -> None:
        if outcome.status == "solved":
            self.settled[f"solved:{outcome.stage}"] += 1
        else:
            self.settled["failed" if outcome.failed else outcome.status] += 1
        qid = question.id
        self._active.pop(qid, None)
        self._open.pop(qid, None)
        self._tried.pop(qid, None)
        self.ledger.forget(qid)
