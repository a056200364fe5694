"""What has been done: the attempts of a run indexed by slot, and where each question stands.

The ledger is rebuilt from `attempts.jsonl` alone, so a run killed at any point (even between
two lines) resumes exactly: a slot with a finished attempt is never asked again, and a slot whose
generation failed is retried under a new id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from sciinstruct.annotate.stages import Slot, SlotKey, StagePlan, slots_for
from sciinstruct.jsonl import BadLine
from sciinstruct.records import Attempt, Question


@dataclass
class Ledger:
    """Finished attempts by slot key, failed tries per slot, and every attempt by id."""

    finished: dict[SlotKey, Attempt] = field(default_factory=dict)
    failures: Counter[SlotKey] = field(default_factory=Counter)
    attempts: dict[str, Attempt] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path, bad: list[BadLine] | None = None) -> Ledger:
        """Read an attempts file; unreadable lines (a cut-off last line after a kill) go to `bad`.

        Lines are parsed and validated in one step by pydantic's JSON parser: a finished run of
        10,000 questions is re-read on every resume, so this is the hot path of a re-run.
        """
        ledger = cls()
        path = Path(path)
        if not path.exists():
            return ledger
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    ledger.add(Attempt.model_validate_json(line))
                except ValidationError as exc:
                    if bad is not None:
                        bad.append(BadLine(str(path), number, _why(exc, line)))
        return ledger

    def add(self, attempt: Attempt) -> None:
        if attempt.id in self.attempts:
            return
        self.attempts[attempt.id] = attempt
        index = attempt.metadata.get("sample")
        if not isinstance(index, int):
            return  # not made by annotate (e.g. an eval attempt): no slot to fill
        key = (attempt.question_id, attempt.stage, index, attempt.parent_id)
        if attempt.error is not None:
            self.failures[key] += 1
        else:
            self.finished.setdefault(key, attempt)

    def extend(self, attempts: Iterable[Attempt]) -> None:
        for attempt in attempts:
            self.add(attempt)


@dataclass(frozen=True)
class Outcome:
    """Where a question stands.

    status: `solved` (at `stage`), `unsolved` (every stage ran, nothing correct), `ungradable`
    (the reference could not be parsed), or `pending` (the `missing` slots of `stage` are still
    to be made; `failed` when some of them already failed to generate).
    """

    status: str
    stage: str | None = None
    missing: tuple[Slot, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == "pending" and any(s.retry > 0 for s in self.missing)


def walk(question: Question, ledger: Ledger, stages: Sequence[str], plan: StagePlan) -> Outcome:
    """Replay a question's stages against the ledger: the first unfinished stage, or the end."""
    earlier: dict[str, list[Attempt]] = {}
    for stage in stages:
        slots = slots_for(stage, question, earlier, plan)
        done = [ledger.finished.get(s.key) for s in slots]
        missing = tuple(
            replace(s, retry=ledger.failures[s.key])
            for s, a in zip(slots, done, strict=True)
            if a is None
        )
        if missing:
            return Outcome("pending", stage, missing)
        finished = [a for a in done if a is not None]
        earlier[stage] = finished
        if any(a.correct for a in finished):
            return Outcome("solved", stage)
        if any(a.correct is None for a in finished):
            return Outcome("ungradable", stage)
    return Outcome("unsolved")


def _why(exc: ValidationError, line: bytes) -> str:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return (
            "truncated last line" if not line.endswith(b"\n") else f"invalid JSON ({first['msg']})"
        )
    where = ".".join(str(p) for p in first["loc"])
    return f"not an attempt: field '{where}': {first['msg']}"
