"""Verifiable scientific-format tasks (SciReason): the registry of families and `make_tasks`.

    >>> rows = make_tasks("smiles-to-formula", n=3, seed=0)
    >>> rows[0].answer_type, rows[0].source
    ('formula', 'sciinstruct.tasks/smiles-to-formula')

Rows are `Question` records, so they flow through annotate, export and train like any other
question; the same family, n, seed and molecule list always give the same rows.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache

from sciinstruct.errors import closest
from sciinstruct.records import Question
from sciinstruct.sciformats.family import TaskFamily
from sciinstruct.sciformats.molecule_tasks import MOLECULE_FAMILIES
from sciinstruct.sciformats.molecules import NamedMolecule, read_molecules
from sciinstruct.sciformats.sequence_tasks import SEQUENCE_FAMILIES

FAMILIES: dict[str, TaskFamily] = {f.name: f for f in (*MOLECULE_FAMILIES, *SEQUENCE_FAMILIES)}

# Draws per requested row, and draws in a row that find nothing new, before giving up: a family
# over a 200-molecule list cannot make 1,000 distinct questions, and should say so, not loop.
_ATTEMPTS_PER_ROW = 20
_MAX_MISSES_IN_A_ROW = 1000


@lru_cache(maxsize=1)
def shipped_molecules() -> tuple[NamedMolecule, ...]:
    """The molecule list shipped with sciinstruct, parsed once per process."""
    return tuple(read_molecules()[0])


def get_family(name: str) -> TaskFamily:
    """The family called `name`; a `KeyError` that suggests the closest names on a typo."""
    try:
        return FAMILIES[name]
    except KeyError:
        close = closest(name, FAMILIES, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"unknown task family {name!r}{hint} (known: {', '.join(FAMILIES)})"
        ) from None


def make_tasks(
    family: str,
    n: int,
    seed: int = 0,
    molecules: Sequence[NamedMolecule] | None = None,
) -> list[Question]:
    """Up to `n` distinct tasks of one family, reproducible from `seed`.

    `molecules` defaults to the shipped list. Fewer than `n` rows come back only when the
    molecule list is too small to give `n` distinct questions.
    """
    spec = get_family(family)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    pool: Sequence[NamedMolecule] = ()
    if spec.uses_molecules:
        pool = molecules if molecules is not None else shipped_molecules()
        if not pool:
            raise ValueError(f"task family {family!r} needs at least one molecule")
    # a string seed is hashed with SHA-512 by `random`: stable across runs and platforms
    rng = random.Random(f"sciinstruct.tasks/{family}/{seed}")
    rows: dict[str, Question] = {}
    misses = 0
    for _ in range(n * _ATTEMPTS_PER_ROW):
        if len(rows) == n or misses == _MAX_MISSES_IN_A_ROW:
            break
        draft = spec.generate(rng, pool)
        question = Question(
            question=draft.question,
            answer=draft.answer,
            solution=draft.solution,
            subject=spec.subject,
            answer_type=spec.answer_type,  # type: ignore[arg-type]
            choices=draft.choices,
            source=f"sciinstruct.tasks/{family}",
            metadata={"family": family, "seed": seed, **draft.metadata},
        )
        misses = misses + 1 if question.id in rows else 0
        rows.setdefault(question.id, question)
    return list(rows.values())
