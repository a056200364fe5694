"""The annotation funnel: how many questions each stage solved, at what cost.

Counted from the ledger (what the attempts file held for these questions, and what this
invocation added), so a resumed run reports the whole run.
`wall_s` and `requests` are this invocation's (a re-run of finished work shows ~0 s, 0 requests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from sciinstruct.records import Attempt

OUTCOMES = ("unsolved", "ungradable", "failed", "pending")


@dataclass
class StageStats:
    """One stage's attempts and cost."""

    solved: int = 0  # questions whose first correct attempt came from this stage
    attempts: int = 0
    correct: int = 0
    errors: int = 0  # generations that failed (kept, with their error)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: int = 0  # attempts answered from the response cache
    requests: int = 0  # attempts made by this invocation
    wall_s: float = 0.0  # this invocation: first request to last attempt (stages overlap)


@dataclass
class Funnel:
    questions: int
    stages: dict[str, StageStats]
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def solved(self) -> int:
        return sum(s.solved for s in self.stages.values())

    wall_s: float = 0.0  # this invocation's generation time, all stages

    def to_stats(self) -> dict[str, Any]:
        """The `annotate` section of stats.json."""
        return {
            "questions": self.questions,
            "solved": {name: s.solved for name, s in self.stages.items()},
            "solved_total": self.solved,
            **self.outcomes,
            "stages": {name: vars(s).copy() for name, s in self.stages.items()},
            "completion_tokens": sum(s.completion_tokens for s in self.stages.values()),
            "prompt_tokens": sum(s.prompt_tokens for s in self.stages.values()),
            "wall_s": round(self.wall_s, 3),
        }

    def table(self) -> Table:
        """The funnel as a rich table: one row per stage, then the questions left over."""
        table = Table(title=f"annotate: {self.solved}/{self.questions} questions solved")
        for name in (
            "stage",
            "solved",
            "%",
            "attempts",
            "correct",
            "errors",
            "out tokens",
            "wall s",
        ):
            table.add_column(name, justify="left" if name == "stage" else "right")
        for name, s in self.stages.items():
            table.add_row(
                name, str(s.solved), _pct(s.solved, self.questions), str(s.attempts),
                str(s.correct), str(s.errors), str(s.completion_tokens), f"{s.wall_s:.1f}",
            )  # fmt: skip
        for outcome, count in self.outcomes.items():
            if count or outcome == "unsolved":
                table.add_row(outcome, str(count), _pct(count, self.questions), *[""] * 5)
        return table


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


class Tally:
    """Each stage's attempts and cost, counted as attempts reach the ledger (`Ledger.on_add`)."""

    def __init__(self, stage_names: Sequence[str]) -> None:
        self.stages = {name: StageStats() for name in stage_names}

    def __call__(self, attempt: Attempt) -> None:
        s = self.stages.get(attempt.stage)
        if s is None:
            return
        s.attempts += 1
        s.correct += attempt.correct is True
        s.errors += attempt.error is not None
        s.prompt_tokens += attempt.usage.prompt_tokens
        s.completion_tokens += attempt.usage.completion_tokens
        s.cached += attempt.usage.cached


def build_funnel(
    questions: int,
    tally: Tally,
    settled: Mapping[str, int],
    walls: Mapping[str, float],
    requests: Mapping[str, int],
) -> Funnel:
    """Where every question ended (`Scheduler.settled`) and what each stage cost."""
    stages = tally.stages
    funnel = Funnel(questions, stages)
    for outcome, count in settled.items():
        status, _, stage = outcome.partition(":")
        if status == "solved":
            stages[stage].solved += count
        else:
            funnel.outcomes[status] += count
    for name, s in stages.items():
        s.wall_s = round(walls.get(name, 0.0), 3)
        s.requests = requests.get(name, 0)
    return funnel
