"""Gas laws: Boyle's and Charles's laws (medium) and the ideal gas law (hard), via pint."""

from __future__ import annotations

import random

from sciinstruct.generators.base import Draft, family, format_number, pick
from sciinstruct.generators.conversions import ureg


@family(
    "gas_laws",
    subject="chemistry",
    difficulty="medium",
    description="Boyle's law, Charles's law, or moles from the ideal gas law",
)
def gas_laws(rng: random.Random) -> Draft:
    kind = pick(rng, ("boyle", "charles", "ideal"))
    if kind == "boyle":
        p1, v1 = pick(rng, (100, 120, 150, 200, 250)), rng.randint(2, 12)
        p2 = pick(rng, (50, 75, 100, 300, 400, 500))
        answer = format_number(p1 * v1 / p2)
        return Draft(
            f"A gas occupies {v1} L at {p1} kPa. At constant temperature, what volume does it "
            f"occupy at {p2} kPa?",
            answer, unit="L",
            solution=f"Boyle's law: V2 = P1·V1/P2 = {p1}×{v1}/{p2} = {answer} L.",
        )  # fmt: skip
    if kind == "charles":
        v1, t1 = rng.randint(1, 10), pick(rng, (200, 250, 300, 400))
        t2 = pick(rng, (150, 350, 450, 500, 600))
        answer = format_number(v1 * t2 / t1)
        return Draft(
            f"A gas occupies {v1} L at {t1} K. At constant pressure, what is its volume at {t2} K?",
            answer, unit="L",
            solution=f"Charles's law: V2 = V1·T2/T1 = {v1}×{t2}/{t1} = {answer} L.",
        )  # fmt: skip
    q = ureg().Quantity
    pressure, volume = pick(rng, (100, 101.3, 150, 200)), rng.randint(1, 50)
    kelvin = pick(rng, (273, 298, 300, 350, 400))
    n = (q(pressure, "kPa") * q(volume, "L") / (ureg().molar_gas_constant * q(kelvin, "K"))).to(
        "mol"
    )
    answer = format_number(n.magnitude)
    return Draft(
        f"How many moles of an ideal gas occupy {volume} L at {pressure} kPa and {kelvin} K? "
        "Use R = 8.314 J/(mol·K).",
        answer, unit="mol", difficulty="hard",
        solution=f"n = PV/(RT) = {pressure}e3 Pa × {volume}e-3 m³ / (8.314 × {kelvin}) = {answer} mol.",
    )  # fmt: skip
