"""Molecules through RDKit: parse with a reason, spell, and compute the properties tasks ask for.

Everything here wraps RDKit; nothing re-implements chemistry. A SMILES that does not parse comes
back as a `MoleculeError` carrying RDKit's own diagnosis ("syntax error ... around position 5",
"Explicit valence for atom # 0 C, 5, is greater than permitted") so a user or a reward log can see
why, instead of RDKit's usual silent `None` and a line on stderr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import Crippen, Descriptors, Lipinski, rdFingerprintGenerator, rdMolDescriptors

from sciinstruct.settings import package_path

# Named substructures for the "contains a functional group" tasks and for design constraints.
# SMARTS after the Daylight SMARTS examples; each matches the group as chemists name it.
FUNCTIONAL_GROUPS: dict[str, str] = {
    "carboxylic acid": "[CX3](=O)[OX2H1]",
    "ester": "[#6][CX3](=O)[OX2H0][#6]",
    "amide": "[NX3][CX3](=[OX1])[#6]",
    "ketone": "[#6][CX3](=O)[#6]",
    "aldehyde": "[CX3H1](=O)[#6]",
    "alcohol (hydroxyl on sp3 carbon)": "[OX2H][CX4]",
    "phenol": "[OX2H]c",
    "primary amine": "[NX3;H2;!$(NC=O);!$(NS=O)][#6]",
    "nitrile": "[NX1]#[CX2]",
    "nitro group": "[$([NX3](=O)=O),$([NX3+](=O)[O-])]",
    "halogen": "[F,Cl,Br,I]",
    "sulfonamide": "[SX4](=O)(=O)[NX3]",
    "ether": "[OD2]([#6])[#6]",
    "carbon-carbon double bond": "[CX3]=[CX3]",
}

_TIMESTAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


class MoleculeError(ValueError):
    """A SMILES string that RDKit refuses; the message says why."""


def _reason_from_log(log: str, smiles: str) -> str:
    """Condense RDKit's error log into one line: the diagnosis and, if given, the position."""
    lines = [_TIMESTAMP.sub("", line).strip() for line in log.splitlines()]
    lines = [line.replace("SMILES Parse Error: ", "").rstrip(":") for line in lines if line]
    # drop RDKit's echo of the input and its caret line, and the closing "Failed parsing" line
    useful = [
        line
        for line in lines
        if line != smiles and set(line) - {"~", "^"} and not line.startswith("Failed parsing")
    ]
    return "; ".join(dict.fromkeys(useful)) or "RDKit could not parse it"


def parse_smiles(smiles: str) -> Chem.Mol:
    """Parse and sanitise a SMILES string, or raise `MoleculeError` with RDKit's reason."""
    text = smiles.strip()
    if not text:
        raise MoleculeError("empty SMILES")
    if any(ch.isspace() for ch in text):
        raise MoleculeError(f"SMILES contains whitespace: {text!r}")
    with rdBase.CaptureErrorLog() as capture:
        mol = Chem.MolFromSmiles(text)
    if mol is None:
        raise MoleculeError(f"invalid SMILES {text!r}: {_reason_from_log(capture.messages, text)}")
    if mol.GetNumAtoms() == 0:
        raise MoleculeError(f"SMILES {text!r} has no atoms")
    return mol


def is_valid_smiles(smiles: str) -> bool:
    try:
        parse_smiles(smiles)
    except MoleculeError:
        return False
    return True


def canonical_smiles(mol: Chem.Mol) -> str:
    """RDKit's canonical SMILES (isomeric): one spelling per molecule."""
    return Chem.MolToSmiles(mol)


def random_smiles(mol: Chem.Mol, seed: int, tries: int = 8) -> str:
    """A valid, non-canonical spelling of `mol`, the same for the same seed.

    Uses RDKit's seeded random atom ordering; for tiny molecules every spelling may be canonical,
    in which case the canonical one is returned.
    """
    canonical = canonical_smiles(mol)
    for spelling in Chem.MolToRandomSmilesVect(mol, tries, randomSeed=seed):
        if spelling != canonical:
            return spelling
    return canonical


def molecular_formula(mol: Chem.Mol) -> str:
    """Hill-notation formula with charge, e.g. `C9H8O4`, `C7H16NO2+` (RDKit's CalcMolFormula)."""
    return rdMolDescriptors.CalcMolFormula(mol)


@dataclass(frozen=True)
class Properties:
    """The descriptors tasks ask about, each as RDKit computes it."""

    molecular_weight: float  # average mass, g/mol (Descriptors.MolWt)
    logp: float  # Wildman-Crippen logP estimate (Crippen.MolLogP)
    tpsa: float  # topological polar surface area, Å² (Ertl et al. 2000)
    hbond_donors: int  # Lipinski donors: N-H and O-H (Lipinski.NumHDonors)
    hbond_acceptors: int  # Lipinski acceptors (Lipinski.NumHAcceptors)
    rings: int  # SSSR ring count
    aromatic_rings: int
    heavy_atoms: int

    @property
    def lipinski_violations(self) -> int:
        """Violations of Lipinski's rule of five (MW <= 500, logP <= 5, HBD <= 5, HBA <= 10)."""
        return sum(
            (
                self.molecular_weight > 500,
                self.logp > 5,
                self.hbond_donors > 5,
                self.hbond_acceptors > 10,
            )
        )

    @property
    def passes_lipinski(self) -> bool:
        """Lipinski's own reading: poor absorption is likely with more than one violation."""
        return self.lipinski_violations <= 1


def properties(mol: Chem.Mol) -> Properties:
    return Properties(
        molecular_weight=Descriptors.MolWt(mol),
        logp=Crippen.MolLogP(mol),
        tpsa=rdMolDescriptors.CalcTPSA(mol),
        hbond_donors=Lipinski.NumHDonors(mol),
        hbond_acceptors=Lipinski.NumHAcceptors(mol),
        rings=rdMolDescriptors.CalcNumRings(mol),
        aromatic_rings=rdMolDescriptors.CalcNumAromaticRings(mol),
        heavy_atoms=mol.GetNumHeavyAtoms(),
    )


def is_aromatic(mol: Chem.Mol) -> bool:
    """True when any atom is aromatic after RDKit's aromaticity perception."""
    return any(atom.GetIsAromatic() for atom in mol.GetAtoms())


@lru_cache(maxsize=256)
def smarts_pattern(smarts: str) -> Chem.Mol:
    """A compiled SMARTS query; `MoleculeError` if it does not parse."""
    with rdBase.CaptureErrorLog() as capture:
        pattern = Chem.MolFromSmarts(smarts)
    if pattern is None:
        raise MoleculeError(
            f"invalid SMARTS {smarts!r}: {_reason_from_log(capture.messages, smarts)}"
        )
    return pattern


def has_substructure(mol: Chem.Mol, smarts: str) -> bool:
    return mol.HasSubstructMatch(smarts_pattern(smarts))


def fragment_count(mol: Chem.Mol) -> int:
    """Disconnected pieces (`C.O` is two): designs are expected to be one molecule."""
    return len(Chem.GetMolFrags(mol))


_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)  # ECFP4-like


def tanimoto(mol_a: Chem.Mol, mol_b: Chem.Mol) -> float:
    """Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits): 1.0 for the same graph."""
    return DataStructs.TanimotoSimilarity(
        _MORGAN.GetFingerprint(mol_a), _MORGAN.GetFingerprint(mol_b)
    )


@dataclass(frozen=True)
class NamedMolecule:
    """A molecule from a list: its SMILES as written, its name, and the parsed molecule."""

    smiles: str
    name: str
    mol: Chem.Mol


def read_molecules(path: str | Path | None = None) -> tuple[list[NamedMolecule], list[str]]:
    """Read a `SMILES<TAB>name` file (name optional; `#` comments and blank lines skipped).

    Without a path, reads the list shipped with sciinstruct. Returns the molecules and, for each
    line that did not parse, a problem `file:line: reason`, so a caller decides whether to fail.
    """
    if path is None:
        text = package_path("data/molecules.smi").read_text("utf-8")
        label = "molecules.smi (shipped)"
    else:
        text = Path(path).read_text(encoding="utf-8")
        label = str(path)
    molecules: list[NamedMolecule] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        smiles, _, name = line.strip().partition("\t")
        if not name and " " in smiles:  # also accept "SMILES name" separated by spaces
            smiles, _, name = smiles.partition(" ")
        try:
            mol = parse_smiles(smiles)
        except MoleculeError as exc:
            problems.append(f"{label}:{number}: {exc}")
            continue
        molecules.append(NamedMolecule(smiles=smiles, name=name.strip(), mol=mol))
    return molecules, problems
