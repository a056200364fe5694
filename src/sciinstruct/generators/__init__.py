"""Verifiable questions reproducible from a seed: every task family, one protocol (`base`).

Each family writes a question whose reference answer is computed in code (pint for units, RDKit
for molecules, the standard tables for sequences), so users can make as many fresh,
correctly-answered questions as they need and tests can draw new ones:

    >>> from sciinstruct.generators import generate
    >>> [q.question for q in generate("percentage", 2, seed=0)]
    ['What is 20% of 420?', 'What is 20% of 400?']

Two kinds share the registry: `template` families (science word problems; those tagged easy,
unit_conversion, percentage, ohms_law, force, average_speed, are short single-step problems a
135M-parameter model can learn from a few minutes of LoRA training) and `format` families
(SMILES, formulas, sequences and molecule design, SciReason).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING

from sciinstruct.errors import InputError, did_you_mean

# Importing the family modules is what registers their families in REGISTRY; each template
# family's generator is also importable from its module, e.g. `generators.circuits.ohms_law`.
from sciinstruct.generators import (  # noqa: F401
    circuits,
    conversions,
    gas_laws,
    mechanics,
    molecule_tasks,
    percentages,
    sequence_tasks,
    stoichiometry,
)
from sciinstruct.generators.base import (
    REGISTRY,
    SOURCE,
    Draft,
    Family,
    Kind,
    format_number,
    normalise,
)
from sciinstruct.generators.verify import recompute
from sciinstruct.jsonl import write_jsonl
from sciinstruct.records import Question

if TYPE_CHECKING:
    from sciinstruct.sciformats.molecules import NamedMolecule

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
    "interleave",
    "normalise",
    "recompute",
    "shipped_molecules",
    "write_questions",
]

# A family must yield n distinct questions within this many draws per question; the smallest
# template families (ohms_law, force: 360 combinations) reach a few hundred before running dry.
_DRAWS_PER_QUESTION = 50
# Draws in a row that find nothing new before giving up: a family over a 200-molecule list cannot
# make 1,000 distinct questions, and should say so rather than loop.
_MAX_MISSES_IN_A_ROW = 1000


def families(kind: Kind | None = None) -> list[str]:
    """The registered family names (of one `kind`, or all), sorted."""
    return sorted(name for name, one in REGISTRY.items() if kind in (None, one.kind))


def get_family(name: str) -> Family:
    """The family called `name`; a typo gets a "did you mean ...?"."""
    try:
        return REGISTRY[name]
    except KeyError:
        hint = did_you_mean(name, REGISTRY, n=3)
        hint = f"{hint} " if hint else ""
        raise InputError(
            f"unknown task family {name!r}: {hint}known: {', '.join(families())}",
            field="family",
        ) from None


@lru_cache(maxsize=1)
def shipped_molecules() -> tuple[NamedMolecule, ...]:
    """The molecule list shipped with sciinstruct, parsed once per process."""
    from sciinstruct.sciformats.molecules import read_molecules

    return tuple(read_molecules()[0])


def generate(
    family: str,
    n: int,
    seed: int,
    exclude: Iterable[str] = (),
    molecules: Sequence[NamedMolecule] | None = None,
    fewer_ok: bool = False,
) -> list[Question]:
    """`n` distinct questions of `family`; the same seed gives the same list on any machine.

    Each family draws from its own generator seeded with its name and the seed, so adding a
    family to a request never changes the questions drawn for another. Questions in `exclude`
    (say, a held-out set; compared as the family compares its own, `Family.key`) are skipped, so
    generated training data cannot leak into it. `molecules` replaces the shipped list for the
    families that draw molecules. When the family runs dry before `n` (a small molecule list, a
    small template), the shortfall is an error, or with `fewer_ok` a shorter list.
    """
    spec = get_family(family)
    if n < 0:
        raise InputError(f"the number of questions must be at least 0, got {n}", field="n")
    pool: Sequence[NamedMolecule] = ()
    if spec.uses_molecules:
        pool = molecules if molecules is not None else shipped_molecules()
        if not pool:
            raise InputError(
                f"task family {family!r} needs at least one molecule", field="molecules"
            )
    rng = spec.rng(seed)
    seen = {spec.key(text) for text in exclude}
    out: list[Question] = []
    misses = 0
    for _ in range(_DRAWS_PER_QUESTION * n):
        if len(out) == n or misses == max(_MAX_MISSES_IN_A_ROW, 10 * n):
            break
        question = spec.make(rng, pool)
        key = spec.key(question.question)
        if key in seen:
            misses += 1
            continue
        misses = 0
        seen.add(key)
        question.metadata["seed"] = seed
        out.append(question)
    if len(out) < n and not fewer_ok:
        raise InputError(
            f"family {family!r} yielded only {len(out)} distinct questions of the {n} asked; "
            "ask for fewer, or draw more families",
            field="n",
        )
    return out


def interleave(drawn: Iterable[list[Question]]) -> list[Question]:
    """Families take turns (one question of each, then the next of each), so any first part of
    a file, such as a run's `limit` or an eval's, is balanced across them."""
    return [q for turn in zip_longest(*drawn) for q in turn if q is not None]


def write_questions(
    families: list[str], n: int, seed: int, out: Path, exclude: Iterable[str] = ()
) -> int:
    """Write `n` questions of each family (all template families when the list is empty).

    The families take turns (`interleave`); the file is written atomically in the Question
    schema; returns the number of questions written.
    """
    names = list(families) or [
        name for name in sorted(REGISTRY) if REGISTRY[name].kind == "template"
    ]
    for name in names:
        get_family(name)  # fail on a typo before drawing anything
    excluded = list(exclude)
    return write_jsonl(Path(out), interleave(generate(name, n, seed, excluded) for name in names))
