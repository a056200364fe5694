"""Task families over sequences: reverse complement, transcription, translation, GC, peptide mass.

Sequences are drawn at random from the seeded generator (so any number of distinct tasks can be
made) and every reference is computed with the standard tables of `sequences`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sciinstruct.generators.base import Draft, Family, register
from sciinstruct.sciformats.molecules import NamedMolecule
from sciinstruct.sciformats.sequences import (
    RESIDUE_MASSES,
    SENSE_CODONS,
    STOP_CODONS,
    gc_content,
    peptide_mass,
    reverse_complement,
    transcribe,
    translate,
)

_AMINO_ACIDS = "".join(sorted(RESIDUE_MASSES))


def random_dna(rng: random.Random, length: int, gc: float = 0.5) -> str:
    """A DNA string whose bases are G or C with probability `gc`."""
    return "".join(
        rng.choice("GC") if rng.random() < gc else rng.choice("AT") for _ in range(length)
    )


def random_orf(rng: random.Random, codons: int) -> str:
    """An open reading frame: ATG, `codons` random sense codons, then a stop codon."""
    body = "".join(rng.choice(SENSE_CODONS) for _ in range(codons))
    return "ATG" + body + rng.choice(sorted(STOP_CODONS))


def _reverse_complement(rng: random.Random, _: Sequence[NamedMolecule]) -> Draft:
    dna = random_dna(rng, rng.randint(12, 48), gc=rng.uniform(0.3, 0.7))
    return Draft(
        question=(f"Give the reverse complement of the DNA strand 5'-{dna}-3', written 5' to 3'."),
        answer=reverse_complement(dna),
        metadata={"sequence_kind": "dna", "input": dna},
    )


def _transcription(rng: random.Random, _: Sequence[NamedMolecule]) -> Draft:
    dna = random_dna(rng, rng.randint(12, 48), gc=rng.uniform(0.3, 0.7))
    return Draft(
        question=(
            f"The coding (sense) strand of a gene is 5'-{dna}-3'. "
            "What is the mRNA transcribed from it, written 5' to 3'?"
        ),
        answer=transcribe(dna),
        metadata={"sequence_kind": "rna", "input": dna},
    )


def _translation(rng: random.Random, _: Sequence[NamedMolecule]) -> Draft:
    orf = random_orf(rng, rng.randint(4, 20))
    as_rna = rng.random() < 0.5
    shown, what = (orf.replace("T", "U"), "mRNA") if as_rna else (orf, "DNA coding strand")
    return Draft(
        question=(
            f"Translate the {what} 5'-{shown}-3' into protein with the standard genetic code, "
            "starting at the first base and stopping at the stop codon. "
            "Give the one-letter amino-acid sequence."
        ),
        answer=translate(orf),
        metadata={"sequence_kind": "protein", "input": shown},
    )


def _gc_content(rng: random.Random, _: Sequence[NamedMolecule]) -> Draft:
    dna = random_dna(rng, rng.randint(20, 60), gc=rng.uniform(0.2, 0.8))
    return Draft(
        question=f"What is the GC content, in percent, of the DNA sequence {dna}?",
        answer=f"{gc_content(dna):.2f}",
        # 1%: enough to tell one base more or less apart once sequences exceed ~100 bases,
        # and to forgive rounding in the second decimal
        metadata={"input": dna, "rtol": 0.01},
    )


def _peptide_weight(rng: random.Random, _: Sequence[NamedMolecule]) -> Draft:
    peptide = "".join(rng.choice(_AMINO_ACIDS) for _ in range(rng.randint(4, 20)))
    return Draft(
        question=(
            f"What is the average molecular weight, in daltons, of the linear peptide {peptide} "
            "(one-letter codes, N- to C-terminus)?"
        ),
        answer=f"{peptide_mass(peptide):.2f}",
        # 0.5%: average-mass tables differ in the second decimal per residue; a missed residue
        # (>= 57 Da) or a forgotten water (18 Da) on a <= 20-residue peptide is still caught
        metadata={"input": peptide, "rtol": 0.005},
    )


SEQUENCE_FAMILIES: list[Family] = [
    Family(
        "reverse-complement",
        "DNA -> reverse complement",
        "biology",
        "sequence",
        _reverse_complement,
    ),
    Family(
        "transcription",
        "DNA coding strand -> mRNA",
        "biology",
        "sequence",
        _transcription,
    ),
    Family(
        "translation",
        "ORF (DNA or mRNA) -> protein",
        "biology",
        "sequence",
        _translation,
    ),
    Family(
        "gc-content",
        "DNA -> GC content (%)",
        "biology",
        "numeric",
        _gc_content,
    ),
    Family(
        "peptide-weight",
        "peptide -> average molecular weight (Da)",
        "biology",
        "numeric",
        _peptide_weight,
    ),
]

register(*SEQUENCE_FAMILIES)
