"""Verdict parsing on judge outputs as judges really write them, malformed ones included."""

from __future__ import annotations

import pytest

from sciinstruct.critique.parse import parse_verdict

# (judge output, expected score or None)
CASES: list[tuple[str, int | None]] = [
    # the format our prompt asks for
    ("The final answer 42 m/s matches the reference and every step is right.\nScore: 10", 10),
    (
        "The assistant forgot to convert grams to kilograms, so the result is off by 1000.\nScore: 2",
        2,
    ),
    ("Score: 7", 7),
    ("All steps check out, so the score is 9.", 9),
    ("score: 6\n", 6),
    ("The answer agrees with the reference.\n\nFinal score: 9", 9),
    ("**Explanation:** the sign of the work is wrong.\n**Score:** 3", 3),
    ("Explanation: correct result, but step 2 divides by zero.\nScore = 6", 6),
    ("The solution is correct.\nScore: 8/10", 8),
    ("Rating: [[7]]", 7),
    ("The reasoning is sound and matches the reference. [[9]]", 9),
    ("评分：[[8]]", 8),
    ("最终结果与参考答案一致，但第二步计算有误。\n评分：6分", 6),
    ("解释：答案错误。\n得分: 2", 2),
    # JSON, bare and fenced, with and without extra prose
    ('{"score": 8, "explanation": "Correct answer; the unit conversion is skipped."}', 8),
    ('```json\n{"explanation": "Wrong final value (12 vs 15).", "score": 3}\n```', 3),
    ('Here is my verdict:\n{"rating": "9", "reason": "Matches the reference."}', 9),
    ('{"score": "7/10", "explanation": "ok"}', 7),
    # the last score wins: judges restate the scale or change their mind
    ("A fully correct answer would get Score: 10. This one has a wrong final result.\nScore: 3", 3),
    ("Initial score: 8. On checking step 3 again the derivative is wrong.\nScore: 4", 4),
    ('{"score": 9, "explanation": "looks right"}\nWait, the answer is 0.5 not 5.\nScore: 2', 2),
    # rescaled and rounded
    ("Score: 80/100", 8),
    ("Score: 7.5", 8),
    ("I would rate this answer 6 out of 10.", 6),
    ("Overall this deserves 9/10.", 9),
    # malformed: no score, out of range, placeholders, the scale itself
    ("The answer is correct and well explained.", None),
    ("", None),
    ("Score: N", None),
    ("Score: 0", None),
    ("Score: 11", None),
    ("Score: 1-10", None),
    ('{"score": null, "explanation": "cannot judge"}', None),
    ('{"score": 8, "explanation": "truncated', None),
    ("Scoring rubric applied.", None),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse_verdict_table(text: str, expected: int | None) -> None:
    assert parse_verdict(text).score == expected


def test_table_is_large_and_has_malformed_rows() -> None:
    assert len(CASES) >= 25
    assert sum(expected is None for _, expected in CASES) >= 6


def test_explanation_is_the_text_before_the_score() -> None:
    verdict = parse_verdict("The result 3 kJ equals the reference 3000 J.\nScore: 9")
    assert verdict.explanation == "The result 3 kJ equals the reference 3000 J."
    assert verdict.how == "marker"


def test_json_explanation_is_taken_from_the_object() -> None:
    verdict = parse_verdict('{"score": 4, "explanation": "Off by a factor of two."}')
    assert (verdict.score, verdict.explanation, verdict.how) == (
        4,
        "Off by a factor of two.",
        "json",
    )


def test_json_object_outranks_a_score_quoted_inside_it() -> None:
    text = '{"explanation": "A Score: 3 would be too harsh; the result is right.", "score": 8}'
    assert parse_verdict(text).score == 8


def test_unparseable_keeps_the_whole_text_and_says_why() -> None:
    verdict = parse_verdict("  I cannot decide.  ")
    assert verdict.score is None
    assert verdict.explanation == "I cannot decide."
    assert verdict.how == "no score found"
    assert parse_verdict("Score: 0").how == "score 0 is outside 1-10"
