"""Verifiable questions from templates, reproducible from a seed.

Each family is a function `(rng: random.Random) -> Question` whose reference answer is computed in
code (pint for units, RDKit atomic weights for molar masses), so users can make as many fresh,
correctly-answered questions as they need and tests can draw new ones:

    >>> from sciinstruct.generators import generate
    >>> [q.question for q in generate("percentage", 2, seed=0)]
    ['What is 20% of 420?', 'What is 20% of 400?']

Families tagged easy (unit_conversion, percentage, ohms_law, force, average_speed) are short,
single-step problems with one answer format: the kind a 135M-parameter model can learn from a few
minutes of LoRA training. The others add realism.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from sciinstruct.errors import InputError, did_you_mean

# Importing the family modules is what registers their families in REGISTRY; each family's
# generator is also importable from its module, e.g. `sciinstruct.generators.circuits.ohms_law`.
from sciinstruct.generators import (  # noqa: F401
    circuits,
    conversions,
    gas_laws,
    mechanics,
    percentages,
    stoichiometry,
)
from sciinstruct.generators.base import REGISTRY, SOURCE, Draft, Family, format_number
from sciinstruct.generators.verify import recompute
from sciinstruct.jsonl import write_jsonl
from sciinstruct.records import Question

EASY_FAMILIES = ("unit_conversion", "percentage", "ohms_law", "force", "average_speed")

__all__ = [
    "EASY_FAMILIES",
    "REGISTRY",
    "SOURCE",
    "Draft",
    "Family",
    "families",
    "format_number",
    "generate",
    "get_family",
    "normalise",
    "recompute",
    "write_questions",
]

# A family must yield n distinct questions within this many draws per question; the smallest
# families (ohms_law, force: 360 combinations) reach a few hundred before running dry.
_DRAWS_PER_QUESTION = 50


def families() -> list[str]:
    """The registered family names, sorted."""
    return sorted(REGISTRY)


def get_family(name: str) -> Family:
    """The family called `name`; a typo gets a "did you mean ...?"."""
    try:
        return REGISTRY[name]
    except KeyError:
        hint = did_you_mean(name, REGISTRY)
        hint = f"{hint} " if hint else ""
        raise InputError(
            f"unknown question family {name!r}: {hint}known: {', '.join(families())}",
            field="family",
        ) from None


def normalise(text: str) -> str:
    """Question text compared case- and whitespace-insensitively (for dedup and decontamination)."""
    return " ".join(text.lower().split())


def generate(family: str, n: int, seed: int, exclude: Iterable[str] = ()) -> list[Question]:
    """`n` distinct questions of `family`; the same seed gives the same list on any machine.

    The generator is seeded with the family name and the seed together, so adding a family to a
    request never changes the questions drawn for another. Questions whose normalised text is in
    `exclude` (say, a held-out set) are skipped, so generated training data cannot leak into it.
    """
    make = get_family(family).make
    if n < 0:
        raise InputError(f"the number of questions must be at least 0, got {n}", field="n")
    rng = random.Random(f"{family}:{seed}")  # str seeds hash with SHA-512: stable across runs
    seen = {normalise(text) for text in exclude}
    out: list[Question] = []
    for _ in range(_DRAWS_PER_QUESTION * n):
        if len(out) == n:
            break
        question = make(rng)
        key = normalise(question.question)
        if key in seen:
            continue
        seen.add(key)
        question.metadata["seed"] = seed
        out.append(question)
    if len(out) < n:
        raise InputError(
            f"family {family!r} yielded only {len(out)} distinct questions of the {n} asked; "
            "ask for fewer, or draw more families",
            field="n",
        )
    return out


def write_questions(
    families: list[str], n: int, seed: int, out: Path, exclude: Iterable[str] = ()
) -> int:
    """Write `n` questions of each family (all families when the list is empty) to a JSONL file.

    Families take turns (one question of each, then the next of each), so any first part of the
    file, such as a run's `limit` or an eval's, is balanced across them. The file is written
    atomically in the Question schema; returns the number of questions written.
    """
    names = list(families) or sorted(REGISTRY)
    for name in names:
        get_family(name)  # fail on a typo before drawing anything
    excluded = list(exclude)
    drawn = [generate(name, n, seed, exclude=excluded) for name in names]
    return write_jsonl(Path(out), [q for turn in zip(*drawn, strict=True) for q in turn])
