"""Molecules given as SMILES: equal when RDKit's canonical forms are equal."""

from __future__ import annotations

from functools import lru_cache

# Longer strings are not answers; this also bounds RDKit's work on adversarial input.
_MAX_SMILES_CHARS = 500


@lru_cache(maxsize=1)
def _chem():  # noqa: ANN202 - RDKit module
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # invalid SMILES is an expected outcome, not log noise
    return Chem


@lru_cache(maxsize=8192)
def canonical(smiles: str) -> str | None:
    """RDKit's canonical isomeric SMILES, or None when the string is not a valid molecule."""
    s = smiles.strip()
    if not s or len(s) > _MAX_SMILES_CHARS or any(c.isspace() for c in s):
        return None
    chem = _chem()
    mol = chem.MolFromSmiles(s)
    return chem.MolToSmiles(mol, canonical=True) if mol is not None else None


def compare(pred: str, gold: str) -> tuple[bool | None, str]:
    """`(correct, reason)`; correct is None when the reference itself is not valid SMILES."""
    gold_canon = canonical(gold)
    if gold_canon is None:
        return None, f"reference: '{gold[:60]}' is not valid SMILES"
    pred_canon = canonical(pred)
    if pred_canon is None:
        return False, f"invalid SMILES: '{pred[:60]}'"
    if pred_canon == gold_canon:
        return True, f"same molecule (canonical SMILES {gold_canon})"
    return False, f"different molecule: {pred_canon} vs {gold_canon}"
