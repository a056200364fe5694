"""The one task-family protocol: a `Draft` a family writes and the `Family` that makes it a Question.

A family is a named, seeded writer of verifiable questions: `write(rng, molecules) -> Draft`,
whose reference answer is computed in code, so a generated question is right by construction.
`Family.make(rng, molecules)` turns a draft into a `Question`; `sciinstruct.generators.generate`
draws `n` distinct ones from a seed. There are two kinds, made the same way:

- `template` families (kinematics, unit conversion, ...): author a function `(rng) -> Draft` and
  decorate it with `@family(...)`, which registers it and returns the public `(rng) -> Question`.
- `format` families (SMILES, formulas, sequences; SciReason): `Family(...)` values listed in
  `molecule_tasks` and `sequence_tasks`; those with `uses_molecules` draw from a molecule pool.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sciinstruct.records import AnswerType, Question

if TYPE_CHECKING:
    from sciinstruct.sciformats.molecules import NamedMolecule

SOURCE = "sciinstruct/generators"  # the source of every template question
Difficulty = Literal["easy", "medium", "hard"]
Kind = Literal["template", "format"]


@dataclass(frozen=True)
class Draft:
    """A question as a family writes it; `Family.make` fills in the rest."""

    question: str
    answer: str
    unit: str | None = None
    solution: str | None = None
    answer_type: AnswerType | None = None  # None: the family's answer type
    difficulty: Difficulty | None = None  # None: the family's default
    choices: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


Writer = Callable[[random.Random, "Sequence[NamedMolecule]"], Draft]


@dataclass(frozen=True)
class Family:
    """A registered family: what it asks, of which subject and answer type, and its writer."""

    name: str
    description: str
    subject: str
    answer_type: AnswerType
    write: Writer
    uses_molecules: bool = False  # draws from a molecule pool (the shipped list by default)
    difficulty: Difficulty | None = None  # templates: the difficulty of a draft that names none
    kind: Kind = "format"

    @property
    def source(self) -> str:
        # both spellings predate the merge of the two kinds; question ids hash the source, so
        # they stay as they were and the same seed keeps giving the same ids
        return SOURCE if self.kind == "template" else f"sciinstruct.tasks/{self.name}"

    def rng(self, seed: int) -> random.Random:
        """The family's own generator for `seed`: adding a family never changes another's draws.

        A string seed is hashed with SHA-512 by `random`: stable across runs and platforms.
        """
        if self.kind == "template":
            return random.Random(f"{self.name}:{seed}")
        return random.Random(f"{self.source}/{seed}")

    def key(self, text: str) -> str:
        """What makes two questions of this family the same question (for dedup and --exclude).

        Template text compares case- and whitespace-insensitively; format text keeps its case,
        which carries meaning there (`c1ccccc1` is benzene, `C1CCCCC1` cyclohexane).
        """
        return normalise(text) if self.kind == "template" else " ".join(text.split())

    def make(self, rng: random.Random, molecules: Sequence[NamedMolecule] = ()) -> Question:
        """One question drawn from `rng` (and `molecules`, for a family that uses them)."""
        draft = self.write(rng, molecules)
        difficulty = draft.difficulty or self.difficulty
        return Question(
            question=draft.question,
            answer=draft.answer,
            solution=draft.solution,
            subject=self.subject,
            answer_type=draft.answer_type or self.answer_type,
            unit=draft.unit,
            choices=draft.choices,
            source=self.source,
            metadata={
                "family": self.name,
                **({"difficulty": difficulty} if difficulty else {}),
                **draft.metadata,
            },
        )


REGISTRY: dict[str, Family] = {}


def register(*families: Family) -> None:
    """File `families` in `REGISTRY`; a name registered twice is an error."""
    for one in families:
        if one.name in REGISTRY:
            raise ValueError(f"task family {one.name!r} is registered twice")
        REGISTRY[one.name] = one


def family(
    name: str, *, subject: str, difficulty: Difficulty, description: str
) -> Callable[[Callable[[random.Random], Draft]], Callable[[random.Random], Question]]:
    """Register a draft-writing function `(rng) -> Draft` as the template family `name`."""

    def decorate(write: Callable[[random.Random], Draft]) -> Callable[[random.Random], Question]:
        made = Family(
            name=name,
            description=description,
            subject=subject,
            answer_type="numeric",
            write=lambda rng, _molecules: write(rng),
            difficulty=difficulty,
            kind="template",
        )
        register(made)

        @functools.wraps(write)
        def make(rng: random.Random) -> Question:
            return made.make(rng)

        return make

    return decorate


def normalise(text: str) -> str:
    """Question text compared case- and whitespace-insensitively (for dedup and decontamination)."""
    return " ".join(text.lower().split())


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
