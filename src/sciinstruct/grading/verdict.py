"""The verdict: what the grader decided about one prediction, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """One grading decision.

    `correct` is None when the *reference* could not be understood (a data error the caller
    should report, never a wrong answer to learn from) or when no rule can grade the question
    (a proof, without a judge). `fallback` says the answer was only found by taking the last
    number of the text, which callers may want to weigh less. `certain` is False when the rules
    could not really decide (nothing answer-like found, an answer they cannot parse, a symbolic
    check that timed out, texts that differ): the cases an LLM judge, when configured, decides.
    `truncated` says the response was cut off by the token limit (finish reason `length`), so
    only an explicitly stated answer was credited. `source` is `rules` or `judge`; a judge's
    verdict keeps the judge's raw reply in `judge_raw`. `judge_label` is what the model
    verifier said, when one was asked (`grading.verifier`): correct, incorrect, invalid (a cut
    off, repetitive or answerless response: wrong, counted apart in eval tables), unparseable
    or error (the rules' verdict then stands). `rule` names the extraction rule that
    read the answer (a name in `rules.RULES`, or one of the readings a check makes of its own:
    `last_quantity`, `last_in_dimension`, `display_result`, `math_verify_response`,
    `boxed_parts`, `list_reading`, `parts_reading`, the `choice_*` readers); None when no
    answer was read.
    """

    correct: bool | None
    reason: str
    extracted: str | None
    answer_type: str
    fallback: bool = False
    certain: bool = True
    truncated: bool = False
    source: str = "rules"
    judge_raw: str | None = None
    judge_label: str | None = None
    rule: str | None = None

    @property
    def data_error(self) -> bool:
        """True when the reference, not the prediction, is at fault."""
        return self.correct is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_error(reason: str, answer_type: str, extracted: str | None = None) -> Verdict:
    """A verdict for a reference that cannot be graded against."""
    return Verdict(None, f"reference: {reason}", extracted, answer_type, certain=False)


def unsure(verdict: Verdict) -> Verdict:
    """`verdict`, marked as one the rules could not really decide."""
    return replace(verdict, certain=False)
