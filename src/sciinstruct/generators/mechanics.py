"""Mechanics: Newton's second law and average speed (easy), uniform acceleration (medium)."""

from __future__ import annotations

import random

from sciinstruct.generators.base import Draft, family, format_number, pick


@family(
    "force",
    subject="physics",
    difficulty="easy",
    description="one of F, m, a from the other two, with whole numbers (F = m·a)",
)
def force(rng: random.Random) -> Draft:
    mass, accel = rng.randint(1, 12), rng.randint(1, 10)
    newtons = mass * accel
    unknown = pick(rng, ("F", "m", "a"))
    if unknown == "F":
        text = f"What net force gives an object of mass {mass} kg an acceleration of {accel} m/s²?"
        answer, unit = newtons, "N"
        solution = f"F = m·a = {mass} kg × {accel} m/s² = {newtons} N."
    elif unknown == "a":
        text = f"A net force of {newtons} N acts on an object of mass {mass} kg. What is its acceleration?"
        answer, unit = accel, "m/s^2"
        solution = f"a = F/m = {newtons} N / {mass} kg = {accel} m/s²."
    else:
        text = f"A net force of {newtons} N gives an object an acceleration of {accel} m/s². What is its mass?"
        answer, unit = mass, "kg"
        solution = f"m = F/a = {newtons} N / {accel} m/s² = {mass} kg."
    return Draft(text, str(answer), unit=unit, solution=solution, metadata={"unknown": unknown})


@family(
    "average_speed",
    subject="physics",
    difficulty="easy",
    description="average speed from a distance and a time, with a whole-number answer",
)
def average_speed(rng: random.Random) -> Draft:
    speed, hours = rng.randint(2, 24) * 5, rng.randint(1, 6)
    if rng.random() < 0.5:
        distance = speed * hours
        text = f"A car travels {distance} km in {hours} h. What is its average speed?"
        return Draft(
            text,
            str(speed),
            unit="km/h",
            solution=f"v = d/t = {distance} km / {hours} h = {speed} km/h.",
        )
    speed, seconds = rng.randint(1, 12), rng.randint(2, 20)
    distance = speed * seconds
    text = f"A runner covers {distance} m in {seconds} s. What is the runner's average speed?"
    return Draft(
        text,
        str(speed),
        unit="m/s",
        solution=f"v = d/t = {distance} m / {seconds} s = {speed} m/s.",
    )


@family(
    "kinematics",
    subject="physics",
    difficulty="medium",
    description="uniform acceleration: final speed, distance, or stopping distance",
)
def kinematics(rng: random.Random) -> Draft:
    u, a, t = rng.randint(0, 20), rng.randint(1, 6), rng.randint(2, 10)
    kind = pick(rng, ("final_speed", "distance", "stopping"))
    start = "starts from rest and" if u == 0 else f"moving at {u} m/s"
    if kind == "final_speed":
        v = u + a * t
        text = (
            f"An object {start} accelerates uniformly at {a} m/s² for {t} s. "
            "What is its final speed?"
        )
        return Draft(text, str(v), unit="m/s", solution=f"v = u + a·t = {u} + {a}×{t} = {v} m/s.")
    if kind == "distance":
        s = u * t + a * t * t / 2
        text = (
            f"An object {start} accelerates uniformly at {a} m/s² for {t} s. "
            "How far does it travel in that time?"
        )
        answer = format_number(s)
        return Draft(
            text,
            answer,
            unit="m",
            solution=f"s = u·t + ½·a·t² = {u}×{t} + ½×{a}×{t}² = {answer} m.",
        )
    u = rng.randint(5, 30)
    s = u * u / (2 * a)
    text = (
        f"A car moving at {u} m/s brakes with a constant deceleration of {a} m/s². "
        "What distance does it need to stop?"
    )
    answer = format_number(s)
    return Draft(
        text, answer, unit="m", difficulty="hard",
        solution=f"0 = u² − 2·a·s, so s = u²/(2a) = {u}²/(2×{a}) = {answer} m.",
    )  # fmt: skip
