"""Percentages: "What is 15% of 80?" (easy) and percentage change (medium)."""

from __future__ import annotations

import random

from sciinstruct.generators.base import Draft, family, format_number, pick

# A multiple of 5 percent of a multiple of 20 is always a whole number: 5/100 * 20 = 1.
PERCENTS = [5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80, 90]


@family(
    "percentage",
    subject="math",
    difficulty="easy",
    description="a whole-number percentage of a whole number",
)
def percentage(rng: random.Random) -> Draft:
    percent = pick(rng, PERCENTS)
    whole = 20 * rng.randint(1, 50)
    answer = percent * whole // 100
    return Draft(
        question=f"What is {percent}% of {whole}?",
        answer=str(answer),
        solution=f"{percent}% of {whole} = {percent}/100 × {whole} = {answer}.",
    )


@family(
    "percent_change",
    subject="math",
    difficulty="medium",
    description="the percentage increase or decrease between two prices",
)
def percent_change(rng: random.Random) -> Draft:
    old = 20 * rng.randint(1, 20)
    percent = pick(rng, PERCENTS)
    rise = rng.random() < 0.5
    new = old * (100 + percent) // 100 if rise else old * (100 - percent) // 100
    word = "increase" if rise else "decrease"
    change = abs(new - old)
    answer = format_number(100 * change / old)
    return Draft(
        question=(
            f"A price changes from ${old} to ${new}. "
            f"What is the percentage {word}? Give the answer as a number of percent."
        ),
        answer=answer,
        solution=f"The change is {change}; {change}/{old} × 100 = {answer}%.",
    )
