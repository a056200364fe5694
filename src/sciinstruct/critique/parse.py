"""Read a judge's verdict: a 1-10 score and the explanation that led to it.

Judges answer in many shapes: a JSON object, "Score: 8", "**Rating:** [[8]]", "评分：8分",
"8/10". Every explicit score marker is found and the *last* one wins, since a judge often quotes
the scale or changes its mind before its final line. A bare "N/10" only counts when there is no
explicit marker. A verdict without a score in 1-10 is `None` (never guessed, never averaged in
as a number); the raw text is kept by the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SCALE = (1, 10)

_NUMBER = r"(\d{1,3}(?:\.\d+)?)"
# An optional denominator ("8/10", "80/100") lets us rescale; a range ("1-10") is not a score.
_TAIL = r"(?:\s*(?:/|out\s+of)\s*(\d{1,3}))?(?!\s*[-–~]\s*\d)(?!\.?\d)"
_MARKED = re.compile(
    r"(?:\b(?:final\s+)?(?:score|rating)\b|评分|分数|得分|打分)"
    r"[\s*_:：=]*(?:is|of)?[\s*_:：=]*\[{0,2}\s*" + _NUMBER + r"\s*\]{0,2}" + _TAIL,
    re.IGNORECASE,
)
_BRACKETS = re.compile(r"\[\[\s*" + _NUMBER + r"\s*\]\]" + _TAIL)
_BARE_FRACTION = re.compile(r"(?<![\d.])" + _NUMBER + r"\s*(?:/|out\s+of)\s*(10)\b", re.IGNORECASE)
_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)
_EXPLANATION_KEYS = ("explanation", "reason", "reasoning", "rationale", "analysis", "comment")


@dataclass(frozen=True)
class ParsedVerdict:
    """`score` in 1-10 or None; `how` names the marker that decided it (or why there is none)."""

    score: int | None
    explanation: str
    how: str


def parse_verdict(text: str) -> ParsedVerdict:
    """The last explicit score in `text` (JSON, "Score: N", "[[N]]"), else a bare "N/10"."""
    candidates = _json_scores(text) + _marked_scores(text)
    if not candidates:
        candidates = [
            (m.start(), m.group(1), m.group(2), "fraction", None)
            for m in _BARE_FRACTION.finditer(text)
        ]
    if not candidates:
        return ParsedVerdict(None, text.strip(), "no score found")
    start, number, denominator, how, explanation = max(candidates, key=lambda c: c[0])
    score = _to_scale(number, denominator)
    if score is None:
        return ParsedVerdict(None, text.strip(), f"score {number} is outside {SCALE[0]}-{SCALE[1]}")
    if explanation is None:
        explanation = text[:start].strip() or text.strip()
    return ParsedVerdict(score, explanation, how)


def _to_scale(number: str, denominator: str | None) -> int | None:
    value = float(number)
    if denominator is not None and denominator not in ("", "10"):
        total = float(denominator)
        if total <= 0:
            return None
        value = value * 10 / total  # "80/100" and "4/5" both mean 8 on our scale
    score = int(value + 0.5)  # round half up: a judge's "7.5" is an 8
    return score if SCALE[0] <= score <= SCALE[1] else None


def _marked_scores(text: str) -> list[tuple[int, str, str | None, str, str | None]]:
    found = [(m.start(), m.group(1), m.group(2), "marker", None) for m in _MARKED.finditer(text)]
    found += [
        (m.start(), m.group(1), m.group(2), "brackets", None) for m in _BRACKETS.finditer(text)
    ]
    return found


def _json_scores(text: str) -> list[tuple[int, str, str | None, str, str | None]]:
    found = []
    for match in _JSON_OBJECT.finditer(text):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        value = next((data[k] for k in data if str(k).lower() in ("score", "rating")), None)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            continue
        number = re.fullmatch(r"\s*" + _NUMBER + r"\s*(?:/\s*(\d{1,3}))?\s*", str(value))
        if number is None:
            continue
        explanation = next(
            (str(data[k]) for k in data if str(k).lower() in _EXPLANATION_KEYS), None
        )
        # Positioned at its end, so a "Score: 3" quoted inside the object does not outrank it.
        found.append((match.end() - 1, number.group(1), number.group(2), "json", explanation))
    return found
