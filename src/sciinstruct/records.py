"""The records that flow between stages: Question, Attempt, Sample.

Field names are the contract of docs/architecture.md: every stage reads and writes these, one JSON object a
line, in the run directory. Validation happens here so that each stage can trust what it reads.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ANSWER_TYPES = (
    "auto",
    "numeric",
    "expression",
    "choice",
    "text",
    "smiles",
    "proof",
    # scientific formats (SciReason); graded by sciinstruct.sciformats
    "formula",
    "sequence",
    "molecule_design",
)
AnswerType = Literal[
    "auto",
    "numeric",
    "expression",
    "choice",
    "text",
    "smiles",
    "proof",
    "formula",
    "sequence",
    "molecule_design",
]
Stage = Literal["cot", "reflect", "hinted", "sample", "eval"]
STAGES: tuple[str, ...] = ("cot", "reflect", "hinted", "sample", "eval")
Split = Literal["train", "eval", "test"]


def stable_id(*parts: str, length: int = 16) -> str:
    """A short, stable content hash: the same source and text give the same id on any machine."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


class Record(BaseModel):
    """Base for all records: unknown keys are refused so that typos in input fail loudly."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False, frozen=False)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Question(Record):
    """A question with its reference final answer. `question` and `answer` are required."""

    id: str = ""
    question: str
    answer: str
    solution: str | None = None
    subject: str = "unknown"
    answer_type: AnswerType = "auto"
    unit: str | None = None
    choices: list[str] | None = None
    source: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("question", "answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("subject")
    @classmethod
    def _lower_subject(cls, value: str) -> str:
        return value.strip().lower() or "unknown"

    @model_validator(mode="after")
    def _fill_id(self) -> Question:
        # The id is a stable hash of source + text unless given, so re-ingesting the same file
        # yields the same ids and every later stage can resume against them.
        if not self.id:
            self.id = stable_id(self.source, self.question)
        if self.answer_type == "choice" and self.choices is not None and len(self.choices) < 2:
            raise ValueError("a choice question needs at least two choices")
        return self


class Usage(BaseModel):
    """What a generation cost. Zero tokens and a `cached` flag when it came from the cache."""

    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False


class Attempt(Record):
    """One LLM solution attempt, graded. Every attempt is kept, whatever its outcome."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    question_id: str
    stage: Stage
    parent_id: str | None = None
    model: str = ""
    messages: list[dict[str, str]]
    response: str = ""
    extracted: str | None = None
    correct: bool | None = None
    grade_reason: str = ""
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None  # set when generation itself failed (after retries)
    created: float = Field(default_factory=time.time)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Provenance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str
    model: str = ""
    attempt_ids: list[str] = Field(default_factory=list)
    hinted: bool = False
    # The verdict found the answer only as the last number of an unanchored text (no \boxed{},
    # no "the answer is"): weaker evidence that the solution, not luck, reached it.
    fallback: bool = False


class Sample(Record):
    """A curated training sample with where it came from and how it scored."""

    id: str = ""
    question_id: str
    messages: list[dict[str, str]]
    provenance: Provenance
    scores: dict[str, float | None] = Field(default_factory=dict)  # classifier, critique
    split: Split = "train"
    subject: str = "unknown"
    weight: float = 1.0

    @model_validator(mode="after")
    def _fill_id(self) -> Sample:
        if not self.id:
            self.id = stable_id(self.question_id, *(m.get("content", "") for m in self.messages))
        return self
