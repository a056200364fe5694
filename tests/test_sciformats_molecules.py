"""Molecules, formulas and design constraints: concrete values from RDKit and known chemistry."""

from __future__ import annotations

import pytest

from sciinstruct.sciformats.design import evaluate_constraints, load_constraints
from sciinstruct.sciformats.formulas import FormulaError, parse_formula
from sciinstruct.sciformats.molecules import (
    MoleculeError,
    canonical_smiles,
    has_substructure,
    is_aromatic,
    molecular_formula,
    parse_smiles,
    properties,
    random_smiles,
    read_molecules,
    tanimoto,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("C1CC(", "syntax error"),
        ("CC)", "extra close parentheses"),
        ("C(C)(C)(C)(C)C", "Explicit valence for atom # 0 C, 5"),
        ("c1cccc1", "kekulize"),
        ("", "empty SMILES"),
        ("CC O", "whitespace"),
    ],
)
def test_invalid_smiles_carries_rdkits_reason(smiles: str, reason: str) -> None:
    with pytest.raises(MoleculeError, match=reason):
        parse_smiles(smiles)


def test_aspirin_formula_and_properties() -> None:
    mol = parse_smiles(ASPIRIN)
    assert molecular_formula(mol) == "C9H8O4"
    props = properties(mol)
    assert props.molecular_weight == pytest.approx(180.159, abs=1e-3)
    assert props.tpsa == pytest.approx(63.6, abs=0.01)
    assert (props.hbond_donors, props.hbond_acceptors, props.rings) == (1, 3, 1)
    assert props.passes_lipinski and props.lipinski_violations == 0
    assert is_aromatic(mol) and not is_aromatic(parse_smiles("C1CCCCC1"))


def test_random_smiles_is_a_different_spelling_of_the_same_molecule() -> None:
    mol = parse_smiles(ASPIRIN)
    spelling = random_smiles(mol, seed=7)
    assert spelling != canonical_smiles(mol)
    assert canonical_smiles(parse_smiles(spelling)) == canonical_smiles(mol)
    assert random_smiles(mol, seed=7) == spelling  # seeded


def test_functional_groups_and_similarity() -> None:
    aspirin, ethanol = parse_smiles(ASPIRIN), parse_smiles("CCO")
    assert has_substructure(aspirin, "[CX3](=O)[OX2H1]")  # carboxylic acid
    assert not has_substructure(ethanol, "[CX3](=O)[OX2H1]")
    assert tanimoto(aspirin, parse_smiles("O=C(O)c1ccccc1OC(C)=O")) == 1.0
    assert tanimoto(aspirin, ethanol) < 0.2


@pytest.mark.parametrize(
    ("text", "hill"),
    [
        ("C6H12O6", "C6H12O6"),
        ("H12C6O6", "C6H12O6"),
        ("C_6H_{12}O_6", "C6H12O6"),
        (r"$\mathrm{C_{6}H_{12}O_{6}}$", "C6H12O6"),
        ("C₆H₁₂O₆", "C6H12O6"),
        ("(CH3)2CO", "C3H6O"),
        ("CH3COOH", "C2H4O2"),
        ("OH2", "H2O"),
        ("NH3", "H3N"),
        ("C7H16NO2+", "C7H16NO2+"),
        ("SO4^{2-}", "O4S-2"),
        ("C2O4-2", "C2O4-2"),
        ("Fe^{3+}", "Fe+3"),
    ],
)
def test_formula_spellings(text: str, hill: str) -> None:
    assert parse_formula(text).hill() == hill


def test_trailing_digits_before_a_sign_are_a_count_as_rdkit_writes_them() -> None:
    acetate = parse_formula("C2H3O2-")
    assert (dict(acetate.counts), acetate.charge) == ({"C": 2, "H": 3, "O": 2}, -1)


def test_hill_notation_round_trips_rdkits_formula_for_every_shipped_molecule() -> None:
    for molecule in read_molecules()[0]:
        formula = molecular_formula(molecule.mol)
        assert parse_formula(formula).hill() == formula, molecule.name


@pytest.mark.parametrize(
    ("text", "reason"),
    [("Xx2", "unknown element 'Xx'"), ("C(H", "unbalanced"), ("", "empty"), ("c6h6", "not a")],
)
def test_bad_formulas_say_why(text: str, reason: str) -> None:
    with pytest.raises(FormulaError, match=reason):
        parse_formula(text)


def test_design_constraints_are_checked_one_by_one() -> None:
    constraints = load_constraints('{"mw_min": 150, "mw_max": 200, "max_rings": 0}')
    results = {r.name: r.met for r in evaluate_constraints(parse_smiles(ASPIRIN), constraints)}
    assert results == {"mw_min": True, "mw_max": True, "max_rings": False}
    with pytest.raises(ValueError, match="unknown design constraint"):
        load_constraints('{"colour": "blue"}')
    with pytest.raises(ValueError, match="JSON object of constraints"):
        load_constraints("CCO")


def test_shipped_molecule_list_is_all_valid_and_distinct() -> None:
    molecules, problems = read_molecules()
    assert problems == []
    assert len(molecules) >= 100
    canonical = {canonical_smiles(m.mol) for m in molecules}
    assert len(canonical) == len(molecules)
    assert all(m.name for m in molecules)


def test_user_molecule_file_reports_bad_lines(tmp_path) -> None:
    path = tmp_path / "mols.smi"
    path.write_text("# comment\nCCO\tethanol\n\nC1CC(\tbroken\nc1ccccc1 benzene\n")
    molecules, problems = read_molecules(path)
    assert [m.name for m in molecules] == ["ethanol", "benzene"]
    assert len(problems) == 1 and problems[0].startswith(f"{path}:4: invalid SMILES")
