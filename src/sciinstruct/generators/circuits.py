"""Simple circuits: Ohm's law (easy) and series/parallel resistor networks (medium)."""

from __future__ import annotations

import random

from sciinstruct.generators.base import Draft, family, format_number, pick


@family(
    "ohms_law",
    subject="physics",
    difficulty="easy",
    description="one of V, I, R from the other two, with whole numbers (V = I·R)",
)
def ohms_law(rng: random.Random) -> Draft:
    current, resistance = rng.randint(1, 10), rng.randint(1, 12)
    voltage = current * resistance
    unknown = pick(rng, ("V", "I", "R"))
    if unknown == "V":
        text = (
            f"A current of {current} A flows through a {resistance} Ω resistor. "
            "What is the voltage across the resistor?"
        )
        answer, unit = voltage, "V"
        solution = f"V = I·R = {current} A × {resistance} Ω = {voltage} V."
    elif unknown == "I":
        text = (
            f"A voltage of {voltage} V is applied across a {resistance} Ω resistor. "
            "What current flows through it?"
        )
        answer, unit = current, "A"
        solution = f"I = V/R = {voltage} V / {resistance} Ω = {current} A."
    else:
        text = (
            f"A current of {current} A flows through a resistor when {voltage} V is applied "
            "across it. What is its resistance?"
        )
        answer, unit = resistance, "ohm"
        solution = f"R = V/I = {voltage} V / {current} A = {resistance} Ω."
    return Draft(text, str(answer), unit=unit, solution=solution, metadata={"unknown": unknown})


# Pairs whose parallel combination R1·R2/(R1+R2) is a whole number of ohms.
PARALLEL_PAIRS = [(2, 2), (3, 6), (4, 4), (4, 12), (6, 3), (6, 6), (6, 12), (10, 10), (10, 15),
                  (12, 4), (12, 6), (20, 5), (20, 30), (30, 60), (8, 24), (40, 10)]  # fmt: skip


@family(
    "resistors",
    subject="physics",
    difficulty="medium",
    description="equivalent resistance of resistors in series or in parallel, and the current drawn",
)
def resistors(rng: random.Random) -> Draft:
    if rng.random() < 0.5:
        values = [rng.randint(1, 20) for _ in range(rng.randint(2, 4))]
        total: float = sum(values)
        how = "in series"
        solution = f"In series resistances add: R = {' + '.join(map(str, values))} = {total} Ω."
    else:
        values = list(pick(rng, PARALLEL_PAIRS))
        total = values[0] * values[1] / (values[0] + values[1])
        how = "in parallel"
        solution = (
            f"In parallel R = R1·R2/(R1 + R2) = {values[0]}×{values[1]}/"
            f"({values[0]} + {values[1]}) = {format_number(total)} Ω."
        )
    shown = [f"{v} Ω" for v in values]
    listed = ", ".join(shown[:-1]) + " and " + shown[-1]
    if rng.random() < 0.5:
        return Draft(
            f"Resistors of {listed} are connected {how}. What is the equivalent resistance?",
            format_number(total),
            unit="ohm",
            solution=solution,
        )
    voltage = pick(rng, (6, 9, 12, 24))
    current = format_number(voltage / total)
    return Draft(
        f"Resistors of {listed} are connected {how} across a {voltage} V battery. "
        "What current does the battery supply?",
        current,
        unit="A",
        solution=f"{solution} I = V/R = {voltage} V / {format_number(total)} Ω = {current} A.",
        difficulty="hard" if how == "in parallel" else "medium",
    )
