"""Numbers, scientific notation, units and relative tolerance."""

from __future__ import annotations

import pytest

from sciinstruct.grading import grade
from sciinstruct.grading.numeric import Quantity, compare, normalize_unit, parse_quantity


@pytest.mark.parametrize(
    "spelling",
    [
        "6.02e23",
        "6.02E+23",
        "6.02\\times10^{23}",
        "6.02 x 10^23",
        "6.02 \\cdot 10^{23}",
        "6.02*10**23",
        "6.02 × 10^23",
        "602,000,000,000,000,000,000,000",
    ],
)
def test_scientific_notation_spellings(spelling: str) -> None:
    q = parse_quantity(spelling)
    assert q is not None and q.value == pytest.approx(6.02e23) and q.unit == ""


@pytest.mark.parametrize(
    ("latex", "pint_text"),
    [
        ("\\mathrm{m\\,s^{-2}}", "m s^-2"),
        ("\\text{ kJ/mol}", "kJ/mol"),
        ("^\\circ C", "degC"),
        ("\\mu m", "um"),
        ("\\Omega", "ohm"),
        ("\\mathrm{kg}\\cdot\\mathrm{m}^{2}", "kg * m^2"),
    ],
)
def test_latex_units_become_pint_units(latex: str, pint_text: str) -> None:
    assert normalize_unit(latex) == pint_text


def test_parse_rejects_expressions() -> None:
    for expr in ("5x+3", "1/2", "2\\pi", "1, 2", "x"):
        assert parse_quantity(expr) is None, expr
    assert parse_quantity("x = 5 m") == Quantity(5.0, "m")
    assert parse_quantity("50\\%") == Quantity(50.0, "", percent=True)


def test_relative_tolerance() -> None:
    assert compare(Quantity(1.6e-19, ""), Quantity(1.7e-19, ""), rtol=0.01)[0] is False
    assert compare(Quantity(1.6e-19, ""), Quantity(1.7e-19, ""), rtol=0.1)[0] is True
    assert compare(Quantity(9.8, ""), Quantity(9.81, ""), rtol=0.01)[0] is True
    assert compare(Quantity(101, ""), Quantity(100, ""), rtol=0.01, exact=True)[0] is False
    # a zero reference has no relative scale: within 1e-12 of zero counts as zero
    assert compare(Quantity(1e-9, ""), Quantity(0.0, ""), rtol=0.01)[0] is False
    assert compare(Quantity(1e-13, ""), Quantity(0.0, ""), rtol=0.01)[0] is True


def test_unit_conversion_and_dimension_errors() -> None:
    ok, why = compare(Quantity(3, "kJ"), Quantity(3000, "J"), rtol=0.01)
    assert ok is True and "converting kJ to J" in why
    ok, why = compare(Quantity(5, "kJ"), Quantity(5, "m"), rtol=0.01)
    assert ok is False and why.startswith("incompatible dimensions")
    ok, why = compare(Quantity(5, "blorbs"), Quantity(5, "m"), rtol=0.01)
    assert ok is False and "not a known unit" in why


def test_grade_numeric_examples_from_the_issue() -> None:
    assert grade("3 kJ", "3000 J").correct is True
    assert grade("10 km", "10000 m").correct is True
    assert grade("1 mmol", "1.0\\times10^{-3} mol").correct is True
    assert grade("9.8 \\mathrm{m\\,s^{-2}}", "9.81 m/s^2").correct is True
    verdict = grade("1.6e-19", "1.7e-19")
    assert verdict.correct is False and verdict.answer_type == "numeric"
    assert grade("1.6e-19", "1.7e-19", rtol=0.1).correct is True
    assert grade("3000 J", "3", unit="kJ").correct is True
    verdict = grade("3 kJ", "3 m")
    assert verdict.correct is False and "incompatible dimensions" in verdict.reason


def test_many_figures_against_a_many_figure_decimal_agree_at_the_coarser_place() -> None:
    # 6e-7 apart, inside 1%, but each number claims 7 figures or more (v9's GSM-hard rows)
    assert grade("2944942", "2944943.75").correct is False
    assert grade("3241047.1", "3244047.1").correct is False
    assert grade("2944944", "2944943.75").correct is True  # rounded to its own place
    assert grade("2944943.7512", "2944943.75").correct is True  # more figures than the reference
    # trailing zeros claim no figures, and few figures are the tolerance's to judge
    assert grade("2940000", "2944943.75").correct is True
    assert grade("9.8", "9.81").correct is True
    assert grade("3.1416", "3.14159").correct is True
    assert grade("3.1410", "3.14159").correct is False


def test_whole_number_references_are_exact() -> None:
    assert grade("100", "100").correct is True
    assert grade("101", "100").correct is False  # a count, not a measurement
    assert grade("101 m", "100 m").correct is True  # a measurement: 1% tolerance


def test_threads_grading_at_once_share_one_unit_registry() -> None:
    # a fresh interpreter, so the registry is first built here, by six threads at once: with
    # one registry each, a unit cached from one met a quantity of another mid-eval ("Cannot
    # operate with Unit and Unit of different registries", seen in `make demo`)
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import threading
        from sciinstruct.grading import grade, numeric
        barrier, built, verdicts = threading.Barrier(6), [], []
        def go():
            barrier.wait()
            built.append(id(numeric.registry()))
            verdicts.append(grade("So the length is 6 m.", "6000", "numeric", "mm").correct)
        threads = [threading.Thread(target=go) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(len(set(built)), all(verdicts), len(verdicts))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True", "6"]
