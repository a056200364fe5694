"""Task families over molecules: translation, property prediction, classification and design.

Every reference answer is computed with RDKit from a molecule drawn from the pool, so it is
exactly what the checker will verify. Question texts never name the molecule (the name sits in
`metadata`), so the task is reading the structure, not recalling a fact.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Sequence
from functools import lru_cache

from sciinstruct.generators.base import Draft, Family, register
from sciinstruct.sciformats.molecules import (
    FUNCTIONAL_GROUPS,
    NamedMolecule,
    Properties,
    canonical_smiles,
    has_substructure,
    is_aromatic,
    molecular_formula,
    parse_smiles,
    properties,
    random_smiles,
)

YES_NO = ["yes", "no"]

# every family here draws its molecule from the pool (the shipped list unless one is given)
_molecule_family = functools.partial(Family, uses_molecules=True)


@lru_cache(maxsize=4096)
def _props(smiles: str) -> Properties:
    return properties(parse_smiles(smiles))


def _base(molecule: NamedMolecule) -> dict[str, object]:
    return {"smiles": canonical_smiles(molecule.mol), "name": molecule.name}


def _pick_labelled(
    rng: random.Random, pool: Sequence[NamedMolecule], label: Callable[[NamedMolecule], bool]
) -> tuple[NamedMolecule, bool]:
    """A molecule whose label is yes or no with equal chance, so classes stay balanced.

    Falls back to any molecule when the pool has none of the drawn class.
    """
    want = rng.random() < 0.5
    order = list(range(len(pool)))
    rng.shuffle(order)
    for index in order:
        if label(pool[index]) == want:
            return pool[index], want
    return pool[order[0]], label(pool[order[0]])


def _formula(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
    molecule = rng.choice(pool)
    return Draft(
        question=(
            f"What is the molecular formula of the molecule with SMILES {molecule.smiles}? "
            "Write it in Hill notation (C first, then H, then the other elements alphabetically)."
        ),
        answer=molecular_formula(molecule.mol),
        metadata=_base(molecule),
    )


def _to_canonical(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
    molecule = rng.choice(pool)
    spelling = random_smiles(molecule.mol, seed=rng.randrange(2**31))
    return Draft(
        question=f"Rewrite the SMILES {spelling} as the canonical SMILES of the same molecule.",
        answer=canonical_smiles(molecule.mol),
        metadata={**_base(molecule), "input_smiles": spelling},
    )


def _to_random(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
    molecule = rng.choice(pool)
    canonical = canonical_smiles(molecule.mol)
    return Draft(
        question=(
            f"Write a different valid SMILES string for the molecule {canonical}, "
            "starting from another atom or ordering the branches differently."
        ),
        answer=random_smiles(molecule.mol, seed=rng.randrange(2**31)),
        metadata={**_base(molecule), "must_differ_from": canonical},
    )


def _property_family(
    name: str, asked: str, read: Callable[[Properties], float], decimals: int | None, **tolerance
) -> Family:
    """A numeric property task; `decimals=None` means an exact integer count."""

    def generate(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
        molecule = rng.choice(pool)
        value = read(_props(molecule.smiles))
        answer = str(int(value)) if decimals is None else f"{value:.{decimals}f}"
        rtol = tolerance.get("rtol", 0.0)
        return Draft(
            question=f"For the molecule with SMILES {molecule.smiles}, what is {asked}?",
            answer=answer,
            metadata={**_base(molecule), **tolerance, "rtol": rtol},
        )

    return _molecule_family(name, f"SMILES -> {asked}", "chemistry", "numeric", generate)


def _yes_no_family(
    name: str, description: str, ask: str, label: Callable[[NamedMolecule], bool]
) -> Family:
    def generate(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
        molecule, yes = _pick_labelled(rng, pool, label)
        return Draft(
            question=f"{ask.format(smiles=molecule.smiles)} Answer yes or no.",
            answer="yes" if yes else "no",
            metadata=_base(molecule),
            choices=list(YES_NO),
        )

    return _molecule_family(name, description, "chemistry", "choice", generate)


def _functional_group(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
    group = rng.choice(sorted(FUNCTIONAL_GROUPS))
    smarts = FUNCTIONAL_GROUPS[group]
    molecule, yes = _pick_labelled(rng, pool, lambda m: has_substructure(m.mol, smarts))
    article = "an" if group[0] in "aeiou" else "a"
    return Draft(
        question=f"Does the molecule {molecule.smiles} contain {article} {group}? Answer yes or no.",
        answer="yes" if yes else "no",
        metadata={**_base(molecule), "group": group, "smarts": smarts},
        choices=list(YES_NO),
    )


def _design_draft(question: str, constraints: dict[str, object], molecule: NamedMolecule) -> Draft:
    example = canonical_smiles(molecule.mol)
    return Draft(
        question=question + " Answer with a single SMILES string.",
        answer=json.dumps(constraints, sort_keys=True),
        metadata={"constraints": constraints, "example": example, "name": molecule.name},
        solution=f"One molecule that satisfies this is {example} ({molecule.name or 'unnamed'}).",
    )


def _design_formula(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
    molecule = rng.choice([m for m in pool if m.mol.GetNumHeavyAtoms() >= 3] or pool)
    formula = molecular_formula(molecule.mol)
    return _design_draft(
        f"Propose a molecule with the molecular formula {formula}.",
        {"formula": formula, "connected": True},
        molecule,
    )


def _design_properties(rng: random.Random, pool: Sequence[NamedMolecule]) -> Draft:
    molecule = rng.choice([m for m in pool if m.mol.GetNumHeavyAtoms() >= 8] or pool)
    props = _props(molecule.smiles)
    # a 50 g/mol window placed at random around the example, so the example always fits
    low = int(props.molecular_weight - rng.uniform(5, 45))
    high = low + 50
    max_rings = props.rings + rng.choice((0, 1))
    return _design_draft(
        f"Propose a molecule with molecular weight between {low} and {high} g/mol "
        f"and at most {max_rings} ring{'s' if max_rings != 1 else ''}.",
        {"mw_min": low, "mw_max": high, "max_rings": max_rings, "connected": True},
        molecule,
    )


MOLECULE_FAMILIES: list[Family] = [
    _molecule_family(
        "smiles-to-formula", "SMILES -> Hill formula", "chemistry", "formula", _formula
    ),
    _molecule_family(
        "smiles-canonical", "random SMILES -> canonical", "chemistry", "smiles", _to_canonical
    ),
    _molecule_family(
        "smiles-random", "canonical SMILES -> another spelling", "chemistry", "smiles", _to_random
    ),
    # 1% on molecular weight: a careful sum of atomic masses lands well inside it
    _property_family(
        "molecular-weight",
        "its molecular weight in g/mol",
        lambda p: p.molecular_weight,
        2,
        rtol=0.01,
    ),
    # logP is an estimate (Wildman-Crippen); 10% or 0.2 log units, whichever is looser
    _property_family("logp", "its Crippen logP", lambda p: p.logp, 2, rtol=0.1, atol=0.2),
    _property_family(
        "tpsa", "its topological polar surface area (TPSA) in Å²", lambda p: p.tpsa, 2, rtol=0.05
    ),
    _property_family(
        "hbond-donors",
        "the number of hydrogen-bond donors (Lipinski)",
        lambda p: p.hbond_donors,
        None,
    ),
    _property_family(
        "hbond-acceptors",
        "the number of hydrogen-bond acceptors (Lipinski)",
        lambda p: p.hbond_acceptors,
        None,
    ),
    _property_family("ring-count", "the number of rings", lambda p: p.rings, None),
    _yes_no_family(
        "lipinski",
        "passes Lipinski's rule of five (at most one violation)?",
        "Does the molecule {smiles} pass Lipinski's rule of five (MW <= 500, logP <= 5, "
        "at most 5 H-bond donors and 10 acceptors; at most one violation allowed)?",
        lambda m: _props(m.smiles).passes_lipinski,
    ),
    _yes_no_family(
        "aromatic",
        "has an aromatic ring?",
        "Is the molecule {smiles} aromatic (does it contain an aromatic ring)?",
        lambda m: is_aromatic(m.mol),
    ),
    _molecule_family(
        "functional-group",
        "contains a named functional group?",
        "chemistry",
        "choice",
        _functional_group,
    ),
    _molecule_family(
        "design-formula",
        "propose a molecule with a given formula",
        "chemistry",
        "molecule_design",
        _design_formula,
    ),
    _molecule_family(
        "design-properties",
        "propose a molecule in a MW window with few rings",
        "chemistry",
        "molecule_design",
        _design_properties,
    ),
]

register(*MOLECULE_FAMILIES)
