"""The static cost scan: which items the grading server treats as expensive before grading."""

from __future__ import annotations

import pytest

from sciinstruct.integrations.cost import MAX_SCANNED, RULES, expensive_rule, item_rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("\\boxed{10^{10^{10^{5}}}}", "exponent_tower"),
        ("\\boxed{" + "10^{" * 12 + "42" + "}" * 12 + "}", "exponent_tower"),
        ("so \\boxed{2^{3^{4}}}", "exponent_tower"),
        ("x^{2^n} grows fast", "exponent_tower"),  # a bare caret inside an exponent
        ("so \\boxed{2^3^4^5}", "caret_chain"),
        ("\\boxed{" + "\\frac{1}{1+" * 16 + "1" + "}" * 16 + "}", "deep_nesting"),
        ("so \\boxed{1000000!}", "huge_combinatorial"),
        ("\\boxed{\\binom{100000}{50000}}", "huge_combinatorial"),
        ("\\boxed{" + "{" * 20_000 + "1" + "}" * 20_000 + "}", "brace_flood"),
        ("^" * (MAX_SCANNED + 1), "brace_flood"),
    ],
)
def test_shapes_that_run_the_grader_to_its_limit_are_expensive(text: str, rule: str) -> None:
    assert expensive_rule(text) == rule and rule in RULES


@pytest.mark.parametrize(
    "text",
    [
        "Therefore, the final answer is \\boxed{3 kJ}.",
        "so \\boxed{6.02 \\times 10^{23}} molecules",
        "kg m^2/s^2 is a joule, and m^{-1} s^{-2} a pressure over a density",
        "x^2 + y^2 + z^2 = r^2, so 2^3^4 is only (2^3)^4",
        "so \\boxed{2^{1000000}}, and 10000! is fine",
        "\\boxed{" + "\\frac{1}{1+" * 10 + "1" + "}" * 10 + "}",  # 11 groups deep
        "The answer is " + "7" * 100_000,  # too long to parse: the grader refuses it at once
        "} unbalanced { braces }} ^",
        "",
    ],
)
def test_ordinary_answers_are_cheap(text: str) -> None:
    assert expensive_rule(text) is None


def test_an_item_is_expensive_by_its_response_or_its_reference() -> None:
    assert item_rule("so \\boxed{4}", "4") is None
    assert item_rule("so \\boxed{4}", "10^{10^{10^{5}}}") == "exponent_tower"
    assert item_rule("so \\boxed{4}", {"answer": "1000000!", "unit": None}) == "huge_combinatorial"
    assert item_rule("2^3^4^5", {"answer": "4"}) == "caret_chain"
    assert item_rule("so \\boxed{4}", {"answer": 4}) is None  # not text: nothing to expand
