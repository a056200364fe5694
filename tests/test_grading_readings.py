"""The named readings a check asks for instead of reading the response itself."""

from __future__ import annotations

from sciinstruct.grading.readings import Readings

CHOICES = ["12 N", "24 N", "36 N", "48 N"]


def test_choice_readings_name_their_rule_and_letters() -> None:
    said = Readings("I first thought A.\nAnswer: C").letters_stated(CHOICES)
    assert (said.rule, said.value, said.text) == ("choice_statement", frozenset("C"), "C")
    assert Readings("No answer statement here.").letters_stated(CHOICES) is None

    after = Readings("$\\boxed{F = ma}$, so option B").letters_after_box(CHOICES)
    assert (after.rule, after.value) == ("choice_after_box", frozenset("B"))

    marked = Readings("A) wrong: too small\nB) correct: it balances\nC) wrong").letters_marked(
        CHOICES
    )
    assert (marked.rule, marked.value) == ("choice_marked", frozenset("B"))

    # settled on in running text ("the correct option is D"): only found there, a fallback
    prose = Readings("B and C ignore friction. So the correct option is D.").letters_in_prose(
        CHOICES
    )
    assert (prose.rule, prose.value, prose.fallback) == ("choice_in_prose", frozenset("D"), True)
    # named on its own by the last sentence: a statement
    named = Readings("B and C ignore friction. So the right one is D.").letters_in_prose(CHOICES)
    assert (named.value, named.fallback) == (frozenset("D"), False)

    ordinal = Readings("I would go with the third option.").letters_by_ordinal(CHOICES)
    assert (ordinal.rule, ordinal.value) == ("choice_ordinal", frozenset("C"))
    assert Readings("the ninth option").letters_by_ordinal(CHOICES) is None


def test_list_readings() -> None:
    readings = Readings("Work first.\n(a) 12 m/s\n(b) 18 m/s")
    final = readings.final_lines()
    assert (final.rule, final.text) == ("final_lines", "(a) 12 m/s ; (b) 18 m/s")
    assert readings.lines().value == ("Work first.", "(a) 12 m/s", "(b) 18 m/s")

    boxed = Readings("(a) $\\boxed{2}$\n(b) $\\boxed{5}$")
    assert [(b.text, b.value) for b in boxed.boxes()] == [("2", "(a) $"), ("5", "(b) $")]
    assert boxed.before_last_box().text == "(a) $\\boxed{2}$\n(b) $"

    line = Readings("So we get it.\nОтвет: 2; 7.").answer_line()
    assert (line.rule, line.text) == ("answer_line", "2; 7.")


def test_math_verify_view_is_the_committed_end() -> None:
    view = Readings("x = 5 or x = -5 (x = -5 is rejected since x > 0)").math_verify_view()
    assert view.rule == "math_verify_response"
    assert view.text == "x = 5 or x = -5"
    assert len(Readings("1 + " * 5000 + "1").math_verify_view().text) == 4000


def test_whole_is_only_a_short_one_line_response() -> None:
    assert Readings("$\\frac{3}{4}$").whole().text == "\\frac{3}{4}"
    assert Readings("Two\nlines").whole() is None
