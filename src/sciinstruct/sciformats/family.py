"""What a task family is: a named, seeded generator of verifiable questions.

A family's `generate(rng, molecules)` draws one task from its own `random.Random`, so the same
seed always gives the same rows; `tasks.make_tasks` turns drafts into `Question` records.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sciinstruct.sciformats.molecules import NamedMolecule


@dataclass
class Draft:
    """One generated task before it becomes a Question: the parts a family decides."""

    question: str
    answer: str
    metadata: dict[str, Any] = field(default_factory=dict)
    choices: list[str] | None = None
    solution: str | None = None


Generator = Callable[[random.Random, Sequence[NamedMolecule]], Draft]


@dataclass(frozen=True)
class TaskFamily:
    name: str
    description: str
    subject: str  # "chemistry" or "biology"
    answer_type: str  # one of records.ANSWER_TYPES
    generate: Generator
    uses_molecules: bool = True
