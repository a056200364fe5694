"""Quantities in running text: a number read together with the (compound) unit after it."""

from __future__ import annotations

import pytest

from sciinstruct.grading.numeric import Quantity
from sciinstruct.grading.quantities import last_quantity, leading_quantity


@pytest.mark.parametrize(
    ("text", "quantity", "shown"),
    [
        ("The speed is 11 m/s.", Quantity(11.0, "m/s"), "11 m/s"),
        ("So the result is 7.2 km/h.", Quantity(7.2, "km/h"), "7.2 km/h"),
        ("The acceleration is 9.8 m/s^2.", Quantity(9.8, "m/s^2"), "9.8 m/s^2"),
        ("g = 9.8 m s^{-2} here", Quantity(9.8, "m s^-2"), "9.8 m s^{-2}"),
        ("It is 8.3 J/(mol K).", Quantity(8.3, "J/(mol K)"), "8.3 J/(mol K)"),
        ("The torque is 12 N·m.", Quantity(12.0, "N*m"), "12 N·m"),
        ("The momentum is 10 kg m/s.", Quantity(10.0, "kg m/s"), "10 kg m/s"),
        (
            "The speed is 25 meters per second.",
            Quantity(25.0, "meters per second"),
            "25 meters per second",
        ),
        ("So the voltage is 12 volts in total.", Quantity(12.0, "volts"), "12 volts"),
        ("So 25 percent remains.", Quantity(25.0, "", percent=True), "25 percent"),
        ("Thus $v = 11\\,\\mathrm{m/s}$.", Quantity(11.0, "m/s"), "11 \\mathrm{m/s}"),
        ("It is 3.0 \\times 10^{8} meters.", Quantity(3e8, "meters"), "3.0 \\times 10^{8} meters"),
        ("2 kg and then 5 apples", Quantity(5.0, ""), "5"),  # unknown words are not units
        ("We have 1,500 grams of water", Quantity(1500.0, "grams"), "1,500 grams"),
        ("The pH is -0.5 at first, then 7.", Quantity(7.0, ""), "7"),
    ],
)
def test_last_quantity_keeps_the_unit(text: str, quantity: Quantity, shown: str) -> None:
    found = last_quantity(text)
    assert found is not None
    assert (found.quantity, found.text) == (quantity, shown)


def test_unit_digits_are_never_taken_for_the_answer() -> None:
    # Read left to right, the exponent belongs to the quantity before it.
    found = last_quantity("a = 9.8 m/s^2")
    assert found is not None and found.quantity == Quantity(9.8, "m/s^2")
    found = last_quantity("n = 2.5 \\times 10^{-3} mol")
    assert found is not None and found.quantity == Quantity(2.5e-3, "mol")
    assert last_quantity("no numbers here") is None


def test_long_text_scans_only_its_end() -> None:
    text = "1 m. " * 20_000 + "So the speed is 4 m/s."
    found = last_quantity(text)
    assert found is not None and found.quantity == Quantity(4.0, "m/s")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("11 m/s because the car covers 22 m", Quantity(11.0, "m/s")),
        ("v = 9.8 m/s^2, pointing down", Quantity(9.8, "m/s^2")),
        ("12% of the total", Quantity(12.0, "", percent=True)),
        ("12 apples", None),  # no unit pint knows: the caller keeps its own reading
        ("about 12 m/s", None),  # not at the start
    ],
)
def test_leading_quantity(text: str, expected: Quantity | None) -> None:
    found = leading_quantity(text)
    assert (found.quantity if found else None) == expected
