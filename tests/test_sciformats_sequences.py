"""Sequences: the standard tables and the transformations, on values checked by hand."""

from __future__ import annotations

import pytest

from sciinstruct.sciformats.sequences import (
    CODON_TABLE,
    SequenceError,
    gc_content,
    normalize_sequence,
    peptide_mass,
    reverse_complement,
    transcribe,
    translate,
    validate_sequence,
)


def test_codon_table_is_the_standard_code() -> None:
    assert len(CODON_TABLE) == 64
    assert [CODON_TABLE[c] for c in ("ATG", "TGG", "TAA", "TAG", "TGA", "GGC", "AAA")] == list(
        "MW***GK"
    )
    assert sum(aa == "L" for aa in CODON_TABLE.values()) == 6  # leucine has six codons


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("5'-atg cgt-3'", "ATGCGT"),
        ("5’ ATGC 3’", "ATGC"),
        (">seq1 some gene\nATGC\nGGTA\n", "ATGCGGTA"),
        ("1 atgcatgcat 11 gg", "ATGCATGCATGG"),
        ("MKV*", "MKV"),
    ],
)
def test_normalisation(text: str, clean: str) -> None:
    assert normalize_sequence(text) == clean


def test_transformations() -> None:
    assert reverse_complement("5'-ATGCCG-3'") == "CGGCAT"
    assert reverse_complement("AUGC") == "GCAU"
    assert transcribe("ATGCCGTAA") == "AUGCCGUAA"
    assert translate("AUGUUUGGCUAAGGG") == "MFG"  # stops at UAA
    assert translate("ATGTTTGGCTAA", to_stop=False) == "MFG*"
    assert gc_content("GGCCAT") == pytest.approx(66.6667, abs=1e-4)


def test_peptide_mass_matches_rdkit_from_its_structure() -> None:
    """The residue table must agree with RDKit's mass of the peptide built atom by atom."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    for peptide in ("GG", "ACDEFGHIKLMNPQRSTVWY", "MFLTDFICECH"):
        rdkit_mass = Descriptors.MolWt(Chem.MolFromSequence(peptide))
        assert peptide_mass(peptide) == pytest.approx(rdkit_mass, rel=1e-4)
    assert peptide_mass("GG") == pytest.approx(132.119, abs=1e-3)  # glycylglycine


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        ("ATGU", "dna", "'U' at position 4 \\(U is RNA; DNA uses T\\)"),
        ("AUGT", "rna", "T is DNA"),
        ("MKXV", "protein", "'X' at position 3"),
        ("   ", "dna", "empty DNA"),
    ],
)
def test_invalid_sequences_say_why(text: str, kind: str, reason: str) -> None:
    with pytest.raises(SequenceError, match=reason):
        validate_sequence(text, kind)  # type: ignore[arg-type]
