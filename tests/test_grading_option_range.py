"""The option letters a question allows: A-J, or as many as it lists past ten (BIG-Bench Hard's
colour and shape tasks list up to eighteen, A-R)."""

from __future__ import annotations

import pytest

from sciinstruct.grading import choice, grade

EIGHTEEN = [f"colour {i}" for i in range(18)]


def test_the_range_is_a_to_j_unless_the_question_lists_more() -> None:
    assert choice.options(None) == "ABCDEFGHIJ"
    assert choice.options(["a", "b", "c", "d"]) == "ABCDEFGHIJ"
    assert choice.options(EIGHTEEN) == "ABCDEFGHIJKLMNOPQR"


@pytest.mark.parametrize(
    ("response", "reference", "correct"),
    [
        ("The color of the teddy bear is silver. So the answer is (M).", "M", True),
        ("(Q)", "Q", True),
        ("(O)", "F", False),
        ('"kite" is the only such shape on the list. So the answer is (D).', "K", False),
    ],
)
def test_a_letter_past_j_is_read_when_the_question_lists_it(
    response: str, reference: str, correct: bool
) -> None:
    verdict = grade(response, reference, "choice", choices=EIGHTEEN)
    assert verdict.correct is correct
    assert verdict.certain


def test_a_letter_past_the_questions_range_names_no_option() -> None:
    # Ten options or none: "M" is no option, as before (a unit, a word, a variable)
    assert choice.letters("M", ["a", "b", "c", "d"]) is None
    assert choice.find_in_text("So the answer is (M).") is None
    assert choice.find_in_text("So the answer is (M).", choice.options(EIGHTEEN)) == "M"
    verdict = grade("So the answer is (M).", "M", "choice", choices=["a", "b", "c"])
    assert verdict.correct is None
    assert "names no option letter" in verdict.reason
