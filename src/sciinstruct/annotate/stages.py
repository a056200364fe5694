"""The three stages of self-reflective annotation (SciGLM) as requests to a model.

A `Slot` is one attempt to make: a question, a stage, a sample index and the attempt it
revises. Its id is a hash of exactly those, so the same run always asks for the same attempts;
that is what lets a killed run resume without duplicates. Which slots a stage has depends only
on the graded attempts of the stages before it (`slots_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sciinstruct.llm.base import GenerationRequest, SamplingParams
from sciinstruct.prompt_templates import PromptSet, messages
from sciinstruct.records import Attempt, Question, stable_id
from sciinstruct.settings import option

ANNOTATE_STAGES = ("cot", "reflect", "hinted")
SlotKey = tuple[str, str, int, str | None]  # question id, stage, sample index, parent id


@dataclass(frozen=True)
class StagePlan:
    """How many samples each stage draws and how it samples."""

    samples: int = option(4, "cot samples per question.", short="-k", min=1)
    reflect_samples: int = option(1, "Wrong cot attempts to reflect on, one revision each.", min=0)
    hinted_samples: int = option(1, "Solutions written from the reference answer.", min=0)
    temperature: float = option(0.7, "Sampling temperature.", short="-t")
    top_p: float = option(0.95, "Nucleus sampling threshold.")
    max_tokens: int = option(1024, "Longest solution, in tokens.")
    seed: int = option(0, "Sample i uses seed + i.")

    def count(self, stage: str) -> int:
        return {"cot": self.samples, "reflect": self.reflect_samples}.get(
            stage, self.hinted_samples
        )

    def params(self, index: int) -> SamplingParams:
        # Sample i uses seed + i: the k samples of one prompt differ, and the cache tells them apart.
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            seed=self.seed + index,
        )


@dataclass(frozen=True)
class Slot:
    """One attempt to make. `retry` counts earlier tries whose generation failed."""

    question: Question
    stage: str
    index: int
    parent: Attempt | None = None
    retry: int = 0

    @property
    def key(self) -> SlotKey:
        """Identity of the slot: question, stage, sample index and parent."""
        return (self.question.id, self.stage, self.index, self.parent_id)

    @property
    def parent_id(self) -> str | None:
        return self.parent.id if self.parent is not None else None

    @property
    def attempt_id(self) -> str:
        """A hash of the key; a retry after a failed generation gets its own id (the failed
        record stays)."""
        base = stable_id(self.question.id, self.stage, str(self.index), self.parent_id or "")
        return base if self.retry == 0 else stable_id(base, f"retry{self.retry}")


def is_wrong(attempt: Attempt) -> bool:
    """A graded, failed attempt with text to reflect on."""
    return attempt.correct is False and attempt.error is None and bool(attempt.response.strip())


def slots_for(
    stage: str, question: Question, earlier: dict[str, list[Attempt]], plan: StagePlan
) -> list[Slot]:
    """The slots of `stage` for a question, given its finished attempts of earlier stages.

    `earlier` maps a stage to its attempts in sample order. `reflect` revises the first
    `reflect_samples` wrong cot attempts, one each; `hinted` follows the last wrong attempt
    (its parent, for provenance and for templates that show it) or starts fresh.
    """
    if stage == "cot":
        return [Slot(question, "cot", i) for i in range(plan.samples)]
    if stage == "reflect":
        wrong = [a for a in earlier.get("cot", []) if is_wrong(a)]
        return [
            Slot(question, "reflect", i, a) for i, a in enumerate(wrong[: plan.reflect_samples])
        ]
    if stage == "hinted":
        wrong = [a for s in ("cot", "reflect") for a in earlier.get(s, []) if is_wrong(a)]
        parent = wrong[-1] if wrong else None
        return [Slot(question, "hinted", i, parent) for i in range(plan.hinted_samples)]
    raise ValueError(f"unknown annotation stage {stage!r}; stages: {', '.join(ANNOTATE_STAGES)}")


def build_messages(slot: Slot, prompts: PromptSet) -> list[dict[str, str]]:
    """The exact chat prompt of a slot."""
    attempt = slot.parent.response if slot.parent is not None else None
    return messages(prompts, prompts.render(slot.stage, slot.question, attempt))


def build_requests(
    slots: Sequence[Slot], prompts: PromptSet, plan: StagePlan
) -> list[GenerationRequest]:
    return [GenerationRequest(build_messages(s, prompts), plan.params(s.index)) for s in slots]
