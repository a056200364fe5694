"""Stoichiometry: molar masses, moles from mass, and product masses of balanced reactions.

Atomic weights come from RDKit's periodic table; formulas are restricted to ones without
brackets so that a one-line parser suffices.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter

from sciinstruct.generators.base import Draft, family, format_number, pick

COMPOUNDS = {
    "H2O": "water", "CO2": "carbon dioxide", "NaCl": "sodium chloride", "CH4": "methane",
    "NH3": "ammonia", "C6H12O6": "glucose", "CaCO3": "calcium carbonate", "NaOH": "sodium hydroxide",
    "HCl": "hydrogen chloride", "H2SO4": "sulfuric acid", "KCl": "potassium chloride",
    "MgO": "magnesium oxide", "O2": "oxygen", "C2H6O": "ethanol",
}  # fmt: skip

# Balanced reactions as (reactants, products), each a list of (coefficient, formula).
REACTIONS = [
    ([(2, "H2"), (1, "O2")], [(2, "H2O")]),
    ([(1, "CH4"), (2, "O2")], [(1, "CO2"), (2, "H2O")]),
    ([(1, "N2"), (3, "H2")], [(2, "NH3")]),
    ([(1, "C3H8"), (5, "O2")], [(3, "CO2"), (4, "H2O")]),
    ([(2, "Mg"), (1, "O2")], [(2, "MgO")]),
    ([(1, "CaCO3")], [(1, "CaO"), (1, "CO2")]),
    ([(1, "NaOH"), (1, "HCl")], [(1, "NaCl"), (1, "H2O")]),
]

_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*)")


def atoms(formula: str) -> Counter[str]:
    """Element counts of a bracket-free formula: atoms("C6H12O6") == {"C": 6, "H": 12, "O": 6}."""
    counts: Counter[str] = Counter()
    for element, count in _ELEMENT.findall(formula):
        counts[element] += int(count or 1)
    if "".join(f"{e}{n}" for e, n in _ELEMENT.findall(formula)) != formula:
        raise ValueError(f"cannot parse formula {formula!r} (brackets are not supported)")
    return counts


@functools.cache
def molar_mass(formula: str) -> float:
    """Molar mass in g/mol from RDKit's standard atomic weights."""
    from rdkit import Chem

    table = Chem.GetPeriodicTable()
    return sum(table.GetAtomicWeight(element) * n for element, n in atoms(formula).items())


def _side(terms: list[tuple[int, str]]) -> str:
    return " + ".join(f"{c if c > 1 else ''}{f}" for c, f in terms)


@family(
    "stoichiometry",
    subject="chemistry",
    difficulty="medium",
    description="moles from a mass, a mass from moles, or a product's mass from a reactant's",
)
def stoichiometry(rng: random.Random) -> Draft:
    kind = pick(rng, ("moles", "mass", "reaction"))
    if kind == "moles":
        formula = pick(rng, sorted(COMPOUNDS))
        grams = pick(rng, (5, 10, 18, 20, 25, 36, 44, 50, 58.5, 100, 180, 250))
        m = molar_mass(formula)
        answer = format_number(grams / m)
        return Draft(
            f"How many moles of {COMPOUNDS[formula]} ({formula}) are in {grams} g?",
            answer, unit="mol",
            solution=f"M({formula}) = {m:.2f} g/mol; n = m/M = {grams} g / {m:.2f} g/mol = {answer} mol.",
        )  # fmt: skip
    if kind == "mass":
        formula = pick(rng, sorted(COMPOUNDS))
        moles = pick(rng, (0.1, 0.25, 0.5, 1.5, 2, 3, 4, 0.75))
        m = molar_mass(formula)
        answer = format_number(moles * m)
        return Draft(
            f"What is the mass of {moles} mol of {COMPOUNDS[formula]} ({formula})?",
            answer, unit="g",
            solution=f"M({formula}) = {m:.2f} g/mol; m = n·M = {moles} mol × {m:.2f} g/mol = {answer} g.",
        )  # fmt: skip
    reactants, products = pick(rng, REACTIONS)
    (c_in, given), (c_out, wanted) = pick(rng, reactants), pick(rng, products)
    grams = pick(rng, (2, 4, 8, 10, 16, 20, 32, 50, 100))
    moles_out = grams / molar_mass(given) * c_out / c_in
    answer = format_number(moles_out * molar_mass(wanted))
    equation = f"{_side(reactants)} → {_side(products)}"
    return Draft(
        f"For the reaction {equation}, what mass of {wanted} is produced from {grams} g of "
        f"{given}, {'assuming the other reactants are in excess' if len(reactants) > 1 else 'if it decomposes completely'}?",
        answer,
        unit="g",
        difficulty="hard",
        solution=(
            f"n({given}) = {grams} g / {molar_mass(given):.2f} g/mol; n({wanted}) = n({given}) × "
            f"{c_out}/{c_in} = {moles_out:.4g} mol; m = {moles_out:.4g} mol × "
            f"{molar_mass(wanted):.2f} g/mol = {answer} g."
        ),
        metadata={"equation": equation},
    )
