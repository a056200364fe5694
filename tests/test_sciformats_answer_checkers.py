"""The CHECKERS contract with sciinstruct.grading: (pred, gold, options) -> (correct, reason);
a bad prediction is wrong with a reason, a bad reference raises ValueError."""

from __future__ import annotations

import pytest

from sciinstruct.sciformats.answer_checkers import CHECKERS

CASES = [
    # (answer type, prediction, reference, options, expected)
    ("formula", "C9H8O4", "C9H8O4", {}, True),
    ("formula", "O4C9H8", "C9H8O4", {}, True),
    ("formula", r"\mathrm{C_9H_8O_4}", "C9H8O4", {}, True),
    ("formula", "C9H8O3", "C9H8O4", {}, False),
    ("formula", "C9H8O4-", "C9H8O4", {}, False),
    ("formula", "aspirin", "C9H8O4", {}, False),
    ("sequence", "5'-gcat-3'", "GCAT", {}, True),
    ("sequence", "GC\nAT", "GCAT", {}, True),
    ("sequence", "GCAA", "GCAT", {}, False),
    ("sequence", "GCAU", "GCAT", {}, False),
    ("sequence", "MKV*", "MKV", {"sequence_kind": "protein"}, True),
    ("sequence", "GAT", "GAT", {"metadata": {"sequence_kind": "protein"}}, True),
    ("molecule_design", "CC(=O)Oc1ccccc1C(=O)O", '{"formula": "C9H8O4"}', {}, True),
    (
        "molecule_design",
        "OC(=O)c1ccccc1OC(C)=O",
        '{"formula": "C9H8O4", "connected": true}',
        {},
        True,
    ),
    ("molecule_design", "CCO", '{"formula": "C9H8O4"}', {}, False),
    ("molecule_design", "C1CC(", '{"formula": "C9H8O4"}', {}, False),
    ("molecule_design", "CCO", "", {"constraints": {"mw_max": 50}}, True),
    (
        "molecule_design",
        "CCO",
        "",
        {"metadata": {"constraints": {"contains": ["alcohol (hydroxyl on sp3 carbon)"]}}},
        True,
    ),
    ("molecule_design", "CCO", '{"similar_to": "CCCO", "min_similarity": 0.9}', {}, False),
]


@pytest.mark.parametrize(("answer_type", "pred", "gold", "options", "expected"), CASES)
def test_checker_table(answer_type, pred, gold, options, expected) -> None:
    correct, reason = CHECKERS[answer_type](pred, gold, options)
    assert correct is expected, reason
    assert reason


def test_wrong_predictions_say_why() -> None:
    assert CHECKERS["formula"]("C9H8O3", "C9H8O4", {})[1] == "formula C9H8O3 != reference C9H8O4"
    assert "position 4" in CHECKERS["sequence"]("GCAA", "GCAT", {})[1]
    assert "'U' at position 4" in CHECKERS["sequence"]("GCAU", "GCAT", {})[1]
    reason = CHECKERS["molecule_design"]("C1CC(", '{"formula": "C9H8O4"}', {})[1]
    assert "invalid SMILES 'C1CC(': syntax error" in reason
    reason = CHECKERS["molecule_design"]("CCO", '{"mw_min": 100, "max_rings": 1}', {})[1]
    assert reason == "1 of 2 constraints unmet: MW 46.07 < 100"


@pytest.mark.parametrize(
    ("answer_type", "gold"),
    [
        ("formula", "Qq2"),
        ("sequence", "ATG!"),
        ("molecule_design", "{not json"),
        ("molecule_design", '{"formula": "Zz"}'),
        ("molecule_design", "CCO"),
    ],
)
def test_bad_reference_raises_value_error(answer_type: str, gold: str) -> None:
    with pytest.raises(ValueError):
        CHECKERS[answer_type]("C", gold, {})


def test_generated_tasks_grade_through_the_grader() -> None:
    """The grader dispatches to CHECKERS (and its own smiles/numeric/choice types)."""
    grading = pytest.importorskip("sciinstruct.grading")
    from sciinstruct.generators import generate

    for family in ("smiles-to-formula", "translation", "design-formula", "smiles-canonical"):
        for row in generate(family, 3, 1):
            pred = row.metadata["example"] if row.answer_type == "molecule_design" else row.answer
            verdict = grading.grade(f"\\boxed{{{pred}}}", row.answer, answer_type=row.answer_type)
            assert verdict.correct is True, (family, pred, verdict.reason)
