"""The extraction rule table: every rule's examples, the ranking, the rule in the verdict, the
reference and tolerance parsed once, and `grade_many` over items with their own tolerances."""

from __future__ import annotations

import pytest

from sciinstruct.grading import GradeItem, Reference, Tolerance, grade, grade_many
from sciinstruct.grading.extract import KINDS
from sciinstruct.grading.rules import RULES, Example, Rule, candidates, extract, rule_named

EXAMPLES = [(rule, example) for rule in RULES for example in rule.examples]


@pytest.mark.parametrize(
    ("rule", "example"),
    EXAMPLES,
    ids=[f"{rule.name}:{i}" for i, (rule, _) in enumerate(EXAMPLES)],
)
def test_every_rule_reads_its_examples(rule: Rule, example: Example) -> None:
    found = extract(example.response, example.question)
    assert found is not None, f"{rule.name}: nothing read from {example.response!r}"
    assert (found.rule, found.text) == (rule.name, example.text)


def test_the_table_is_well_formed() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    for rule in RULES:
        assert rule.kind in KINDS, rule.name
        assert rule.examples, f"{rule.name} has no example"
        assert rule.why, f"{rule.name} does not say what it reads"
    priorities = [rule.priority for rule in RULES]
    assert priorities == sorted(priorities)  # the table reads in the order it runs
    for priority in set(priorities):  # a tier is read by one reader: its rules compete by position
        assert len({rule.read for rule in RULES if rule.priority == priority}) == 1, priority
    with pytest.raises(KeyError, match="rules: boxed, answer_tag"):
        rule_named("nope")


def test_candidates_are_ranked_one_per_tier() -> None:
    text = "The answer is 12.\nSo in the end we get \\boxed{14}"
    ranked = list(candidates(text))
    assert [(c.rule, c.text) for c in ranked][:2] == [("boxed", "14"), ("answer_is", "12")]
    assert ranked[-1].rule == "last_number" and ranked[-1].fallback


def test_statements_compete_by_position() -> None:
    found = extract("Answer: 5\nOn second thought, the answer is 6.")
    assert found is not None and (found.rule, found.text) == ("answer_is", "6")
    found = extract("The answer is 6.\nFinal Answer: 5")
    assert found is not None and (found.rule, found.text) == ("answer_label", "5")


def test_the_verdict_names_the_rule() -> None:
    assert grade("so \\boxed{42}", "42").rule == "boxed"
    assert grade("She has 3 + 4 = 7 apples.\n#### 7", "7").rule == "gsm8k_marker"
    assert grade("We get 3 and then\n7 more", "7").rule == "last_quantity"  # its unit too
    assert grade("", "7").rule is None
    assert grade("The answer is (B).", "B", answer_type="choice").rule == "choice_statement"
    assert grade("Clearly B is correct here, the others fail.", "B").rule == "choice_in_prose"


def test_tolerance_modes() -> None:
    assert Tolerance.parse(None, {}) == Tolerance("written", 0.01, 0.0)
    assert Tolerance.parse(0.01, {"rtol": 0.2}) == Tolerance("relative", 0.01, 0.0)
    assert Tolerance.parse(None, {"rtol": 0.05}) == Tolerance("relative", 0.05, 0.0)
    assert Tolerance.parse(None, {"atol": 0.5}) == Tolerance("absolute", 0.01, 0.5)
    with pytest.raises(ValueError, match="metadata atol must be a number >= 0, got -1"):
        Tolerance.parse(None, {"atol": -1})


def test_an_explicit_rtol_is_a_relative_tolerance_for_counts_too() -> None:
    # No tolerance asked: 100 apples is a count, 101 is wrong.
    assert grade("101", "100").correct is False
    # --rtol 0.01 asks for 1% everywhere: the mode says so, not a comparison with the default.
    assert grade("101", "100", rtol=0.01).correct is True
    assert grade("102", "100", rtol=0.01).correct is False


def test_reference_is_parsed_once() -> None:
    ref = Reference.parse("\\boxed{2.5}", unit="10^{-3} J")
    assert isinstance(ref, Reference)
    assert (ref.answer, ref.answer_type, ref.tolerance.mode) == ("2.5", "numeric", "written")
    assert ref.quantity is not None and ref.quantity.unit == "J"
    assert ref.scaled is not None and ref.scaled.value == pytest.approx(2.5e-3)
    bad = Reference.parse("", "numeric")
    assert not isinstance(bad, Reference) and bad.reason == "reference: empty answer"


def test_grade_many_items_carry_their_own_tolerance() -> None:
    items = [
        GradeItem("104", "100", rtol=0.05),
        GradeItem("104", "100"),
        {"pred": "104", "gold": "100", "metadata": {"atol": 5}},
        {"pred": "\\boxed{B}", "gold": "B", "answer_type": "choice"},
    ]
    verdicts = grade_many(items, workers=1)
    assert [v.correct for v in verdicts] == [True, False, True, True]
    assert [v.rule for v in verdicts] == ["short_response", "short_response", "short_response",
                                          "boxed"]  # fmt: skip
    # the column form still reads
    assert [v.correct for v in grade_many(["104"], ["100"], rtol=0.05)] == [True]
