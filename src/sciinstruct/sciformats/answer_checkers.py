"""Checkers for the scientific answer types, called by `sciinstruct.grading`.

Contract with the grader: `CHECKERS[answer_type](extracted_pred, gold, options) -> (correct,
reason)`. The grader's `options` hold `unit`, `rtol` and `atol` (the tolerances in force: the
caller's, else the question's metadata's, else 1% and 0), `choices`, and `metadata` (the
question's metadata as a dict, `{}` when it has none); `_option` looks a key up directly, then
under `metadata`, so a task row (a Question dict) works as `options` too. A prediction that cannot be read is simply wrong, with a reason; a *reference* that
cannot be read raises `ValueError`, because that is a data bug the grader reports as such
(`Verdict.correct = None`), never a model mistake.

`check_task_answer` grades a final answer against a generated task row for every answer type the
task families produce; it is what the tests and the benchmark use to confirm that each reference
grades correct against itself. Model output (extraction, units, math) goes through the grader.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from sciinstruct.sciformats.design import evaluate_constraints, load_constraints
from sciinstruct.sciformats.formulas import FormulaError, parse_formula
from sciinstruct.sciformats.molecules import MoleculeError, canonical_smiles, parse_smiles
from sciinstruct.sciformats.sequences import SequenceError, SequenceKind, guess_kind
from sciinstruct.sciformats.sequences import validate_sequence as _validate_sequence

Checker = Callable[[str, str, Mapping[str, Any]], tuple[bool, str]]


def _option(options: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    """An option given directly or inside `options["metadata"]` (a task row's metadata)."""
    options = options or {}
    if key in options:
        return options[key]
    metadata = options.get("metadata")
    if isinstance(metadata, str):  # a metadata column serialised as JSON
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            metadata = None
    return metadata.get(key, default) if isinstance(metadata, Mapping) else default


def check_formula(
    pred: str, gold: str, options: Mapping[str, Any] | None = None
) -> tuple[bool, str]:
    """Same elements, counts and charge, in any order and spelling (`H2O` == `OH2`)."""
    want = parse_formula(gold)  # FormulaError is a ValueError: a bad reference
    try:
        have = parse_formula(pred)
    except FormulaError as exc:
        return False, f"prediction is not a formula: {exc}"
    if have == want:
        return True, f"formula {have} matches"
    return False, f"formula {have} != reference {want}"


def check_sequence(
    pred: str, gold: str, options: Mapping[str, Any] | None = None
) -> tuple[bool, str]:
    """Exact match after normalisation (case, whitespace, line breaks, 5'/3' labels, stop `*`)."""
    kind: SequenceKind = _option(options, "sequence_kind") or guess_kind(gold)
    want = _validate_sequence(gold, kind)  # SequenceError is a ValueError: a bad reference
    try:
        have = _validate_sequence(pred, kind)
    except SequenceError as exc:
        return False, f"prediction: {exc}"
    if have == want:
        return True, f"{kind.upper()} sequence matches ({len(want)} letters)"
    if len(have) != len(want):
        return False, f"length {len(have)} != reference length {len(want)}"
    first = next(i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b)
    return False, f"differs from the reference first at position {first + 1}"


def check_molecule_design(
    pred: str, gold: str, options: Mapping[str, Any] | None = None
) -> tuple[bool, str]:
    """The proposed SMILES parses and meets every constraint of the reference."""
    constraints = load_constraints(gold, options)  # ValueError: a bad reference
    try:
        mol = parse_smiles(pred)
    except MoleculeError as exc:
        return False, str(exc)
    results = evaluate_constraints(mol, constraints)
    unmet = [r.detail for r in results if not r.met]
    if unmet:
        return False, f"{len(unmet)} of {len(results)} constraints unmet: " + "; ".join(unmet)
    return True, f"all {len(results)} constraints met"


CHECKERS: dict[str, Checker] = {
    "formula": check_formula,
    "sequence": check_sequence,
    "molecule_design": check_molecule_design,
}


def _check_numeric(pred: str, gold: str, row: Mapping[str, Any]) -> tuple[bool, str]:
    want = float(gold)
    try:
        have = float(pred.strip())
    except ValueError:
        return False, f"not a number: {pred!r}"
    rtol = float(_option(row, "rtol", 0.01))
    if math.isclose(have, want, rel_tol=rtol, abs_tol=float(_option(row, "atol", 0.0))):
        return True, f"{have:g} == {want:g} within rtol {rtol:g}"
    return False, f"{have:g} != {want:g} (rtol {rtol:g})"


def _check_smiles(pred: str, gold: str) -> tuple[bool, str]:
    want = canonical_smiles(parse_smiles(gold))
    try:
        have = canonical_smiles(parse_smiles(pred))
    except MoleculeError as exc:
        return False, str(exc)
    return (True, "same molecule") if have == want else (False, f"{have} != {want}")


def check_task_answer(row: Mapping[str, Any], pred: str) -> tuple[bool, str]:
    """Grade a final answer against a generated task row (a Question dict), by its answer type."""
    answer_type, gold = row["answer_type"], row["answer"]
    if answer_type in CHECKERS:
        return CHECKERS[answer_type](pred, gold, row)
    if answer_type == "numeric":
        return _check_numeric(pred, gold, row)
    if answer_type == "smiles":
        return _check_smiles(pred, gold)
    if answer_type in ("choice", "text"):
        same = pred.strip().lower() == gold.strip().lower()
        return same, "matches" if same else f"{pred.strip()!r} != {gold!r}"
    raise ValueError(f"no sciformats check for answer type {answer_type!r}")
