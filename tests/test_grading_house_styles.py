"""House styles of real outputs (held-out table v10, then retired), each as its own case."""

from __future__ import annotations

import pytest

from sciinstruct.grading import grade


@pytest.mark.parametrize(
    ("pred", "gold", "correct"),
    [
        ("Therefore, the correct options are (A) and (C).", "AC", True),
        ("Step 3.\nTherefore, the correct options are (A) and (C).", "AC", True),
        ("Therefore, the correct options are (A) and (C).", "A", False),
        ("Between (A) and (C), the answer is (C).", "C", True),  # one letter: not several
    ],
)
def test_several_options_named_in_one_sentence(pred: str, gold: str, correct: bool) -> None:
    assert grade(pred, gold, "choice").correct is correct


@pytest.mark.parametrize(
    ("pred", "gold", "unit", "correct"),
    [
        ("The swap spread is 0.37%.", "37", "bp", True),
        ("The swap spread is 37 bp.", "0.37%", None, True),
        ("The swap spread is 38 bps.", "0.37%", None, False),
        ("The swap spread is 0.47%.", "37", "bp", False),
    ],
)
def test_basis_points_against_percent(
    pred: str, gold: str, unit: str | None, correct: bool
) -> None:
    assert grade(pred, gold, unit=unit).correct is correct


@pytest.mark.parametrize(
    ("pred", "gold", "correct"),
    [
        ('{"answer": "Yes, the function u is a constant."}', "Yes", True),
        ('{"answer": "No, u need not be constant."}', "Yes", False),
        ("True, since every term is positive.", "true", True),
        ("The function is constant.", "Yes", False),  # no polar word: not read as one
    ],
)
def test_a_polar_reference_is_met_by_an_answer_opening_with_it(
    pred: str, gold: str, correct: bool
) -> None:
    assert grade(pred, gold).correct is correct


def test_a_chat_header_opening_the_turn_is_not_its_end() -> None:
    pred = "<|start_header_id|>assistant<|end_header_id|>\n\nStep 1.\nTherefore, the answer is 219."
    verdict = grade(pred, "219")
    assert verdict.correct is True and verdict.rule == "answer_is"
    # a marker after the answer still ends the turn
    pred = "<|im_start|>assistant\nThe answer is 5.<|im_end|><|im_start|>user\nThe answer is 6."
    assert grade(pred, "5").correct is True


@pytest.mark.parametrize(("gold", "correct"), [("-12", True), ("12", False)])
def test_a_concluding_sentence_keeps_the_sign_of_its_one_new_number(gold: str, correct: bool):
    pred = (
        "The temperature drops 4 degrees per hour from 0.\n\n"
        "Therefore, the temperature will be -12 degrees after 3 hours."
    )
    question = (
        "It is 0 degrees and drops 4 degrees per hour. What is the temperature after 3 hours?"
    )
    verdict = grade(pred, gold, question=question)
    assert (verdict.correct, verdict.rule, verdict.extracted) == (correct, "final_statement", "-12")
