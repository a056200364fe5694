"""Design constraints: what a proposed molecule must satisfy, checked one by one with RDKit.

A design task's reference answer is its constraints as JSON, e.g.
`{"formula": "C8H10N4O2", "connected": true}` or `{"mw_min": 250, "mw_max": 300, "max_rings": 2}`,
so the answer column alone (as in a GRPO export) is enough to grade. Each constraint is evaluated
separately: the grader needs all of them met, the shaped reward pays the fraction met.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rdkit import Chem

from sciinstruct.sciformats.formulas import FormulaError, parse_formula
from sciinstruct.sciformats.molecules import (
    FUNCTIONAL_GROUPS,
    MoleculeError,
    Properties,
    fragment_count,
    has_substructure,
    molecular_formula,
    parse_smiles,
    properties,
    smarts_pattern,
    tanimoto,
)


@dataclass(frozen=True)
class ConstraintResult:
    name: str
    met: bool
    detail: str  # what was required and what the molecule has, e.g. "MW 312.4 > 300"


def _bound(label: str, value: float, limit: float, upper: bool) -> tuple[bool, str]:
    met = value <= limit if upper else value >= limit
    relation = ("<=" if met else ">") if upper else (">=" if met else "<")
    return met, f"{label} {value:.4g} {relation} {limit:g}"


# name -> (what the constraint reads from the molecule, whether the limit is an upper bound)
_BOUNDS: dict[str, tuple[str, Callable[[Properties], float], bool]] = {
    "mw_min": ("MW", lambda p: p.molecular_weight, False),
    "mw_max": ("MW", lambda p: p.molecular_weight, True),
    "logp_min": ("logP", lambda p: p.logp, False),
    "logp_max": ("logP", lambda p: p.logp, True),
    "tpsa_min": ("TPSA", lambda p: p.tpsa, False),
    "tpsa_max": ("TPSA", lambda p: p.tpsa, True),
    "min_rings": ("rings", lambda p: p.rings, False),
    "max_rings": ("rings", lambda p: p.rings, True),
    "max_hbond_donors": ("H-bond donors", lambda p: p.hbond_donors, True),
    "max_hbond_acceptors": ("H-bond acceptors", lambda p: p.hbond_acceptors, True),
    "min_heavy_atoms": ("heavy atoms", lambda p: p.heavy_atoms, False),
    "max_heavy_atoms": ("heavy atoms", lambda p: p.heavy_atoms, True),
}
_OTHER = (
    "formula",
    "connected",
    "lipinski",
    "contains",
    "excludes",
    "similar_to",
    "min_similarity",
)
CONSTRAINT_NAMES: tuple[str, ...] = (*_BOUNDS, *_OTHER)


def _smarts_for(group: str) -> str:
    return FUNCTIONAL_GROUPS.get(group, group)


def validate_constraints(constraints: Mapping[str, Any]) -> dict[str, Any]:
    """Check a constraint set is well formed; raise `ValueError` naming what is wrong."""
    if not isinstance(constraints, Mapping) or not constraints:
        raise ValueError("design constraints must be a non-empty JSON object")
    unknown = sorted(set(constraints) - set(CONSTRAINT_NAMES))
    if unknown:
        raise ValueError(
            f"unknown design constraint(s) {unknown}; known: {', '.join(CONSTRAINT_NAMES)}"
        )
    for name in _BOUNDS:
        if name in constraints and not isinstance(constraints[name], int | float):
            raise ValueError(f"design constraint {name!r} must be a number")
    if "formula" in constraints:
        try:
            parse_formula(str(constraints["formula"]))
        except FormulaError as exc:
            raise ValueError(f"design constraint 'formula': {exc}") from exc
    constraints = dict(constraints)
    if "min_similarity" in constraints and "similar_to" not in constraints:
        raise ValueError("design constraint 'min_similarity' needs 'similar_to' (a SMILES)")
    for key in ("contains", "excludes"):
        if isinstance(constraints.get(key), str):
            constraints[key] = [constraints[key]]
        for group in constraints.get(key, []):
            try:
                smarts_pattern(_smarts_for(group))
            except MoleculeError as exc:
                raise ValueError(f"design constraint {key!r}: {exc}") from exc
    if "similar_to" in constraints:
        try:
            parse_smiles(str(constraints["similar_to"]))
        except MoleculeError as exc:
            raise ValueError(f"design constraint 'similar_to': {exc}") from exc
    return constraints


def load_constraints(gold: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The constraints of a design task: the gold as JSON, else `options["constraints"]`.

    Raises `ValueError` when neither gives a well-formed constraint set (a data error).
    """
    options = options or {}
    found: Any = None
    text = (gold or "").strip()
    if text.startswith("{"):
        try:
            found = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"design reference is not valid JSON: {exc.msg}") from exc
    if found is None:
        found = options.get("constraints")
    if found is None:
        metadata = options.get("metadata") or {}
        found = metadata.get("constraints") if isinstance(metadata, Mapping) else None
    if found is None:
        raise ValueError(
            "a molecule_design reference must be a JSON object of constraints "
            '(e.g. {"formula": "C6H6O"}) or come with options["constraints"]'
        )
    return validate_constraints(found)


def evaluate_constraints(mol: Chem.Mol, constraints: Mapping[str, Any]) -> list[ConstraintResult]:
    """Each constraint of a (validated) set, met or not, with what the molecule has."""
    props = properties(mol)
    results: list[ConstraintResult] = []
    for name, limit in constraints.items():
        if name in _BOUNDS:
            label, read, upper = _BOUNDS[name]
            met, detail = _bound(label, read(props), float(limit), upper)
        elif name == "formula":
            have, want = molecular_formula(mol), parse_formula(str(limit))
            met = parse_formula(have) == want
            detail = f"formula {have} {'==' if met else '!='} {want}"
        elif name == "connected":
            pieces = fragment_count(mol)
            met = (pieces == 1) == bool(limit)
            detail = f"{pieces} fragment(s)"
        elif name == "lipinski":
            met = props.passes_lipinski == bool(limit)
            detail = f"{props.lipinski_violations} rule-of-five violation(s)"
        elif name in ("contains", "excludes"):
            present = [g for g in limit if has_substructure(mol, _smarts_for(g))]
            met = len(present) == len(limit) if name == "contains" else not present
            detail = f"has {present or 'none'} of {list(limit)}"
        elif name == "similar_to":
            similarity = tanimoto(mol, parse_smiles(str(limit)))
            threshold = float(constraints.get("min_similarity", 0.4))
            met = similarity >= threshold
            detail = f"Tanimoto {similarity:.2f} {'>=' if met else '<'} {threshold:g}"
        else:  # min_similarity is read together with similar_to
            continue
        results.append(ConstraintResult(name, met, detail))
    return results
