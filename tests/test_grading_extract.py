"""Final-answer extraction and LaTeX clean-up."""

from __future__ import annotations

import pytest

from sciinstruct.grading import extract_answer, grade
from sciinstruct.grading.extract import (
    clean,
    find_boxed,
    joined_boxes,
    open_box,
    sanitize,
    without_hypotheticals,
)
from sciinstruct.grading.rules import extract


@pytest.mark.parametrize(
    ("text", "answer", "how"),
    [
        ("so \\boxed{\\frac{1}{2}} and done", "\\frac{1}{2}", "boxed"),
        ("\\boxed{1} then \\boxed{2}", "2", "boxed"),
        ("\\boxed{\\{1, \\{2\\}\\}}", "\\{1, \\{2\\}\\}", "boxed"),
        ("\\boxed{a_{b_{c}}}", "a_{b_{c}}", "boxed"),
        ("\\fbox{7}", "7", "boxed"),
        ("\\boxed 7 is it", "7", "boxed"),
        ("\\boxed{1} and \\boxed{2", "1", "boxed"),  # the last box is unclosed
        ("$x=\\boxed{2}$ or $x=\\boxed{3}$", "2, 3", "boxed"),  # one answer in two boxes
        ("\\boxed{3}, but correcting the sign, \\boxed{-3}", "-3", "boxed"),
        ("\\boxed{3}\n\n\\boxed{4}", "4", "boxed"),
        ("Thus the final answer is 12 m/s.", "12 m/s", "answer_is"),
        ("The answer is $x = 4$ because we solved it.", "x = 4", "answer_is"),
        ("The answer is \\(\\dfrac{3}{4}\\).", "\\frac{3}{4}", "answer_is"),
        ("Answer: 42", "42", "answer_label"),
        ("**Final Answer:** B", "B", "answer_label"),
        ("Answer:\n\n  17", "17", "answer_label"),
        ("$\\left( 1, 2 \\right)$", "( 1, 2 )", "whole"),
        ("The answer is $\\$12.50$.", "12.50", "answer_is"),
    ],
)
def test_extraction(text: str, answer: str, how: str) -> None:
    found = extract(text)
    assert found is not None
    assert (found.text, found.how) == (answer, how)
    assert found.fallback is False


def test_last_number_is_a_reported_fallback() -> None:
    text = "We add the two.\nThen we multiply by 3 to get 1.5e3 joules in the end, roughly."
    found = extract(text)
    assert found is not None and found.text == "1.5e3" and found.fallback


def test_nothing_answer_like() -> None:
    assert extract_answer("") is None
    assert extract_answer("   \n ") is None
    assert extract_answer("no digits in this long text\n" * 20) is None


def test_long_answers_are_scanned_in_linear_time() -> None:
    text = "x" * 100_000 + "\\boxed{5}"
    assert extract_answer(text) == "5"
    assert find_boxed("{" * 50_000 + "\\boxed{" + "{" * 50_000) is None


def test_sanitize_drops_nuls_and_invalid_utf8() -> None:
    assert sanitize("4\x00") == "4"
    assert sanitize(b"\xff4\xfe") == "\ufffd4\ufffd"
    assert sanitize("4\udcff") == "4\ufffd"
    assert sanitize(None) == ""


def test_clean() -> None:
    assert clean("$\\displaystyle \\dfrac{1}{2}$.") == "\\frac{1}{2}"
    assert clean("\\left[ 0, 1 \\right)") == "[ 0, 1 )"
    assert clean("\\(x\\)") == "x"
    assert clean("1 \\text{ or } 2") == "1 , 2"
    assert clean("12π") == "12\\pi"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{W(n) = 1 \\text{ and } W(n) = -1", "W(n) = 1 \\text{ and } W(n) = -1"),
        ("so $\\boxed{\\frac{1}{2}$", "\\frac{1}{2}"),
        ("\\boxed{3}", None),  # closed: find_boxed reads it
        ("\\boxed{", None),  # nothing in it
        ("no box at all", None),
    ],
)
def test_open_box_runs_to_the_end(text: str, expected: str | None) -> None:
    assert open_box(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{1} papers and \\boxed{2} bins", "1, 2"),
        ("$x=\\boxed{2}$ or $x=\\boxed{3}$", "2, 3"),
        ("\\boxed{1} no no no no no \\boxed{2}", None),  # no joining word
        ("\\boxed{4}. Checking again, the sum is 2,552,004, so \\boxed{4}", None),  # too long
        ("\\boxed{7}", None),  # one box: find_boxed reads it
    ],
)
def test_joined_boxes_of_a_reference(text: str, expected: str | None) -> None:
    assert joined_boxes(text) == expected


_CANDY = (
    "Katie had 10 pieces of candy and her sister had 21. If they ate 8 pieces the first night, "
    "how many pieces do they have left?"
)


def test_a_supposition_the_question_makes_is_the_answer() -> None:
    # The closing sentence opens with the question's own "If ...": it is the problem's
    # supposition, not the response hedging, so its result is the answer.
    response = (
        "Katie and her sister have 10 + 21 = 31 pieces. "
        "If they eat 8 pieces the first night, they have 31 - 8 = 23 pieces left."
    )
    assert grade(response, "23", question=_CANDY).correct
    assert not grade(response, "31", question=_CANDY).correct


def test_a_hypothetical_of_the_response_own_is_still_dropped() -> None:
    # Without the question, or with one that does not suppose it, the "If" sentence is the
    # response's own conjecture and the committed answer comes before it.
    hedge = "The sum is 12. If the series started at 2, the sum would be 10."
    assert without_hypotheticals(hedge, "What is the sum of the series?") == "The sum is 12."
    assert without_hypotheticals(hedge) == "The sum is 12."
