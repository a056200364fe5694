"""DNA, RNA and protein sequences: normalise, validate, and the standard transformations.

Biopython is not a dependency, so the two standard tables are written here as data, each with
its source. Sequences are strings of upper-case one-letter codes; `normalize_sequence` turns what a
model writes (`5'-atg cgt-3'`, FASTA with a header, line breaks, position numbers) into that.
"""

from __future__ import annotations

import re
from typing import Literal

SequenceKind = Literal["dna", "rna", "protein"]

# The standard genetic code, NCBI translation table 1, in NCBI's own compact layout
# (https://www.ncbi.nlm.nih.gov/Taxonomy/Utils/wprintgc.cgi?chapter=tgencodes#SG1):
# codon i is BASE1[i] + BASE2[i] + BASE3[i] and encodes AAS[i]; "*" is a stop codon.
_AAS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
_BASE1 = "TTTTTTTTTTTTTTTTCCCCCCCCCCCCCCCCAAAAAAAAAAAAAAAAGGGGGGGGGGGGGGGG"
_BASE2 = "TTTTCCCCAAAAGGGGTTTTCCCCAAAAGGGGTTTTCCCCAAAAGGGGTTTTCCCCAAAAGGGG"
_BASE3 = "TCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAG"
CODON_TABLE: dict[str, str] = {
    a + b + c: aa for a, b, c, aa in zip(_BASE1, _BASE2, _BASE3, _AAS, strict=True)
}
STOP_CODONS: frozenset[str] = frozenset(c for c, aa in CODON_TABLE.items() if aa == "*")
SENSE_CODONS: tuple[str, ...] = tuple(c for c, aa in CODON_TABLE.items() if aa != "*")

# Average masses of amino-acid residues (amino acid minus H2O), in daltons, as used by ExPASy's
# Compute pI/Mw tool (https://web.expasy.org/findmod/findmod_masses.html#AA). A peptide's
# average mass is the sum of its residues plus one water.
RESIDUE_MASSES: dict[str, float] = {
    "A": 71.0788,
    "R": 156.1875,
    "N": 114.1038,
    "D": 115.0886,
    "C": 103.1388,
    "E": 129.1155,
    "Q": 128.1307,
    "G": 57.0519,
    "H": 137.1411,
    "I": 113.1594,
    "L": 113.1594,
    "K": 128.1741,
    "M": 131.1926,
    "F": 147.1766,
    "P": 97.1167,
    "S": 87.0782,
    "T": 101.1051,
    "W": 186.2132,
    "Y": 163.1760,
    "V": 99.1326,
}
WATER_MASS = 18.01524  # average mass of H2O, Da

ALPHABETS: dict[str, frozenset[str]] = {
    "dna": frozenset("ACGT"),
    "rna": frozenset("ACGU"),
    "protein": frozenset(RESIDUE_MASSES),
}
_DNA_COMPLEMENT = str.maketrans("ACGT", "TGCA")
_RNA_COMPLEMENT = str.maketrans("ACGU", "UGCA")

# 5'/3' end labels as written around a strand: "5'-", "5’ ", "-3'", "3′"
_END_LABELS = re.compile(r"^\s*5\s*['’′]\s*-?|-?\s*3\s*['’′]\s*$")
_FASTA_HEADER = re.compile(r"^\s*>.*$", re.MULTILINE)
_NOISE = re.compile(r"[\s\d\-]")  # whitespace, GenBank position numbers, hyphen separators


class SequenceError(ValueError):
    """A string that is not a valid sequence of the expected kind; the message says why."""


def normalize_sequence(text: str) -> str:
    """Upper-case one-letter codes with decoration removed: `5'-atg cgt-3'` -> `ATGCGT`.

    Removes FASTA header lines, 5'/3' end labels, whitespace, line breaks, digits and hyphens,
    and one trailing stop `*` (a translation may or may not show its stop).
    """
    text = _FASTA_HEADER.sub("", text)
    text = _END_LABELS.sub("", text.strip())
    text = _NOISE.sub("", text).upper()
    return text[:-1] if text.endswith("*") else text


def validate_sequence(text: str, kind: SequenceKind) -> str:
    """Normalise and check every letter belongs to `kind`'s alphabet; return the clean sequence.

    Raises `SequenceError` naming the first offending letter and its position, and spotting the
    common slip of U in DNA or T in RNA.
    """
    sequence = normalize_sequence(text)
    if not sequence:
        raise SequenceError(f"empty {kind.upper()} sequence")
    alphabet = ALPHABETS[kind]
    for position, letter in enumerate(sequence, start=1):
        if letter in alphabet:
            continue
        hint = ""
        if kind == "dna" and letter == "U":
            hint = " (U is RNA; DNA uses T)"
        elif kind == "rna" and letter == "T":
            hint = " (T is DNA; RNA uses U)"
        raise SequenceError(
            f"invalid {kind.upper()} sequence: {letter!r} at position {position}{hint}; "
            f"expected only {''.join(sorted(alphabet))}"
        )
    return sequence


def guess_kind(sequence: str) -> SequenceKind:
    """The narrowest alphabet a normalised sequence fits: DNA, then RNA, then protein."""
    letters = set(normalize_sequence(sequence))
    for kind in ("dna", "rna", "protein"):
        if letters <= ALPHABETS[kind]:
            return kind  # type: ignore[return-value]
    raise SequenceError(f"not a DNA, RNA or protein sequence: {sequence[:40]!r}")


def reverse_complement(sequence: str) -> str:
    """The reverse complement of a DNA (or, with U, an RNA) strand, read 5' to 3'."""
    sequence = normalize_sequence(sequence)
    table = _RNA_COMPLEMENT if "U" in sequence else _DNA_COMPLEMENT
    return sequence.translate(table)[::-1]


def transcribe(coding_strand: str) -> str:
    """The mRNA of a DNA coding (sense) strand: the same sequence with U for T."""
    return validate_sequence(coding_strand, "dna").replace("T", "U")


def translate(sequence: str, to_stop: bool = True) -> str:
    """Translate DNA or mRNA, from its first base, with the standard genetic code.

    Stops at the first stop codon (not included) when `to_stop`; otherwise writes it as `*`.
    A trailing partial codon is ignored, as ribosomes do.
    """
    rna_or_dna = normalize_sequence(sequence).replace("U", "T")
    validate_sequence(rna_or_dna, "dna")
    protein: list[str] = []
    for start in range(0, len(rna_or_dna) - 2, 3):
        amino_acid = CODON_TABLE[rna_or_dna[start : start + 3]]
        if amino_acid == "*" and to_stop:
            break
        protein.append(amino_acid)
    return "".join(protein)


def gc_content(sequence: str) -> float:
    """Percentage of G and C bases (0-100) in a DNA or RNA sequence."""
    sequence = normalize_sequence(sequence)
    if not sequence:
        raise SequenceError("GC content of an empty sequence")
    return 100.0 * sum(base in "GC" for base in sequence) / len(sequence)


def peptide_mass(protein: str) -> float:
    """Average molecular mass of a linear peptide in daltons: residues plus one water."""
    sequence = validate_sequence(protein, "protein")
    return sum(RESIDUE_MASSES[aa] for aa in sequence) + WATER_MASS
