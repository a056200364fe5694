"""Shaped rewards for GRPO on scientific formats (SciReason), as TRL reward functions.

Each reward is `(completions, **kwargs) -> list[float | None]`: `completions` are strings or chat
message lists, and TRL passes the dataset's columns as keyword lists (`answer`, `answer_type`,
`metadata`, ...). `None` means the reward does not apply to that row (TRL then ignores it), so
rewards for different answer types can be summed over a mixed dataset:

    trainer = GRPOTrainer(..., reward_funcs=[get_reward("extracted"), get_reward("validity"),
                                             get_reward("constraints"), get_reward("tanimoto")])

They are registered by name in `sciinstruct.train.rewards`, the one reward registry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sciinstruct.grading import extract_answer
from sciinstruct.grading.reward import completion_text
from sciinstruct.sciformats.answer_checkers import CHECKERS
from sciinstruct.sciformats.design import evaluate_constraints, load_constraints
from sciinstruct.sciformats.formulas import FormulaError, parse_formula
from sciinstruct.sciformats.molecules import MoleculeError, parse_smiles, tanimoto
from sciinstruct.sciformats.sequences import SequenceError, guess_kind, validate_sequence

MOLECULE_TYPES = ("smiles", "molecule_design")


def _rows(completions: Sequence[Any], kwargs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per completion with its answer, answer type and metadata (parsed if JSON)."""
    rows = []
    for i, completion in enumerate(completions):
        row: dict[str, Any] = {}
        for key in ("answer", "answer_type", "metadata"):
            column = kwargs.get(key)
            row[key] = column[i] if column is not None else None
        if isinstance(row["metadata"], str):
            try:
                row["metadata"] = json.loads(row["metadata"])
            except json.JSONDecodeError:
                row["metadata"] = None
        row["metadata"] = row["metadata"] if isinstance(row["metadata"], Mapping) else {}
        row["pred"] = extract_answer(completion_text(completion))
        rows.append(row)
    return rows


def extracted_answer(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """1.0 when the grader can extract any final answer from the completion, else 0.0.

    Looser than the `format` reward, which wants the answer stated explicitly: here the
    grader's fallbacks (a last number, a bare one-line reply) count too."""
    return [0.0 if row["pred"] in (None, "") else 1.0 for row in _rows(completions, kwargs)]


def _is_valid(pred: str, row: Mapping[str, Any]) -> bool | None:
    answer_type = row["answer_type"]
    try:
        if answer_type in MOLECULE_TYPES:
            parse_smiles(pred)
        elif answer_type == "formula":
            parse_formula(pred)
        elif answer_type == "sequence":
            kind = row["metadata"].get("sequence_kind") or guess_kind(row["answer"] or "")
            validate_sequence(pred, kind)
        else:
            return None
    except (MoleculeError, FormulaError, SequenceError):
        return False
    return True


def validity_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """1.0 when the answer is a valid SMILES / formula / sequence of the expected kind.

    None for answer types without a format to be valid in (numbers, choices, text).
    """
    rewards: list[float | None] = []
    for row in _rows(completions, kwargs):
        if row["answer_type"] not in (*MOLECULE_TYPES, "formula", "sequence"):
            rewards.append(None)
        elif not row["pred"]:
            rewards.append(0.0)
        else:
            rewards.append(1.0 if _is_valid(row["pred"], row) else 0.0)
    return rewards


def constraint_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """Partial credit on design tasks: the fraction of constraints the proposed molecule meets.

    0.0 for an answer that is not a molecule; None for other answer types and for rows whose
    constraints cannot be read (a data error, not the model's).
    """
    rewards: list[float | None] = []
    for row in _rows(completions, kwargs):
        if row["answer_type"] != "molecule_design":
            rewards.append(None)
            continue
        try:
            constraints = load_constraints(row["answer"] or "", row)
        except ValueError:
            rewards.append(None)
            continue
        try:
            mol = parse_smiles(row["pred"] or "")
        except MoleculeError:
            rewards.append(0.0)
            continue
        results = evaluate_constraints(mol, constraints)
        rewards.append(sum(r.met for r in results) / len(results))
    return rewards


def _reference_molecule(row: Mapping[str, Any]) -> str | None:
    if row["answer_type"] == "smiles":
        return row["answer"]
    if row["answer_type"] == "molecule_design":
        try:
            return load_constraints(row["answer"] or "", row).get("similar_to")
        except ValueError:
            return None
    return None


def tanimoto_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """Morgan-fingerprint Tanimoto similarity of the answer to the reference molecule.

    Applies to `smiles` rows and to design rows with a `similar_to` target; 0.0 for an answer
    that does not parse; None elsewhere or when the reference itself does not parse.
    """
    rewards: list[float | None] = []
    for row in _rows(completions, kwargs):
        reference = _reference_molecule(row)
        if reference is None:
            rewards.append(None)
            continue
        try:
            target = parse_smiles(reference)
        except MoleculeError:
            rewards.append(None)
            continue
        try:
            rewards.append(tanimoto(parse_smiles(row["pred"] or ""), target))
        except MoleculeError:
            rewards.append(0.0)
    return rewards


def checks_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """1.0 / 0.0 by the sciformats checkers (formula, sequence, molecule_design); None elsewhere.

    For every answer type at once, use `sciinstruct.grading.correctness_reward`.
    """
    rewards: list[float | None] = []
    for row in _rows(completions, kwargs):
        checker = CHECKERS.get(row["answer_type"])
        if checker is None:
            rewards.append(None)
        elif not row["pred"]:
            rewards.append(0.0)
        else:
            try:
                correct, _ = checker(row["pred"], row["answer"] or "", row)
            except ValueError:
                rewards.append(None)  # the reference is broken: skip, do not punish
                continue
            rewards.append(1.0 if correct else 0.0)
    return rewards
