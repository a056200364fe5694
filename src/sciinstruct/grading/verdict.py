"""The verdict: what the grader decided about one prediction, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """One grading decision.

    `correct` is None when the *reference* could not be understood: a data error the caller
    should report, never a wrong answer to learn from. `fallback` says the answer was only found
    by taking the last number of the text, which callers may want to weigh less.
    """

    correct: bool | None
    reason: str
    extracted: str | None
    answer_type: str
    fallback: bool = False

    @property
    def data_error(self) -> bool:
        """True when the reference, not the prediction, is at fault."""
        return self.correct is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_error(reason: str, answer_type: str, extracted: str | None = None) -> Verdict:
    """A verdict for a reference that cannot be graded against."""
    return Verdict(None, f"reference: {reason}", extracted, answer_type)
