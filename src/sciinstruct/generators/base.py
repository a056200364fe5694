"""What every question family shares: the registry, the record it yields, number formatting.

A family is a function `(rng: random.Random) -> Question` whose reference answer is computed in
code, so a generated question is verifiable by construction. Family authors write a function that
returns a `Draft` (text, answer, unit, worked solution) and decorate it with `@family(...)`; the
decorator turns it into the public `(rng) -> Question` function and files it in `REGISTRY`.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sciinstruct.records import AnswerType, Question

SOURCE = "sciinstruct/generators"
Difficulty = Literal["easy", "medium", "hard"]


@dataclass(frozen=True)
class Draft:
    """A question as a family author writes it; the family decorator fills in the rest."""

    question: str
    answer: str
    unit: str | None = None
    solution: str | None = None
    answer_type: AnswerType = "numeric"
    difficulty: Difficulty | None = None  # None: the family's default
    metadata: dict[str, Any] = field(default_factory=dict)


Generator = Callable[[random.Random], Question]


@dataclass(frozen=True)
class Family:
    """A registered family: its name, subject, default difficulty and generator."""

    name: str
    subject: str
    difficulty: Difficulty
    description: str
    make: Generator


REGISTRY: dict[str, Family] = {}


def family(
    name: str, *, subject: str, difficulty: Difficulty, description: str
) -> Callable[[Callable[[random.Random], Draft]], Generator]:
    """Register a draft-writing function as the question family `name`."""

    def decorate(write: Callable[[random.Random], Draft]) -> Generator:
        @functools.wraps(write)
        def make(rng: random.Random) -> Question:
            draft = write(rng)
            return Question(
                question=draft.question,
                answer=draft.answer,
                solution=draft.solution,
                subject=subject,
                answer_type=draft.answer_type,
                unit=draft.unit,
                source=SOURCE,
                metadata={
                    "family": name,
                    "difficulty": draft.difficulty or difficulty,
                    **draft.metadata,
                },
            )

        if name in REGISTRY:
            raise ValueError(f"question family {name!r} is registered twice")
        REGISTRY[name] = Family(name, subject, difficulty, description, make)
        return make

    return decorate


def format_number(value: float, sig: int = 3) -> str:
    """`value` rounded to `sig` significant figures, written without an exponent.

    Integers that fit in `sig` figures stay integers ("3500", not "3.50e3"); trailing zeros are
    dropped ("0.25", not "0.250") because the grader compares numbers, not strings, and a short
    reference reads best in a training target.
    """
    if value == 0:
        return "0"
    rounded = Decimal(repr(float(value)))
    exponent = rounded.adjusted() - sig + 1
    rounded = rounded.quantize(Decimal(1).scaleb(exponent))
    text = format(rounded.normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def pick(rng: random.Random, options: list[Any] | tuple[Any, ...]) -> Any:
    """`rng.choice`, named for readability in the family modules."""
    return rng.choice(options)
