"""Multiple choice: a letter, `(B)`, the option's text, or several letters as a set."""

from __future__ import annotations

import re

from sciinstruct.grading.text import normalize

LETTERS = "ABCDEFGHIJ"
_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}|\*\*|__")
# "B", "(B)", "B.", "B)", "[B]", "b", "B) 42 N": a lone letter, then punctuation or nothing
# ("I pick London" starts with a word, not option I).
_LEADING = re.compile(r"^[\s(\[{]*([A-J])(?:[)\]}.:]|$)", re.IGNORECASE)
# "A, C", "A and C", "(A)(C)", "A C": letters and separators only.
_LETTER_SET = re.compile(r"^[\s(\[]*[A-J][\s)\]]*(?:(?:,|;|/|&|and|\s)*[\s(\[]*[A-J][\s)\]]*)*$")
# In running text: "the correct option is (C)", "choice B", "answer: D".
_IN_TEXT = re.compile(
    r"(?:option|choice|answer(?:\s+is)?|correct\s+(?:one|option|choice)\s+is)\s*[:\-]?\s*"
    r"\(?([A-J])\)?(?![\w])",
    re.IGNORECASE,
)
_PARENTHESISED = re.compile(r"\(([A-J])\)")


def letters(answer: str, choices: list[str] | None = None) -> frozenset[str] | None:
    """The option letters an answer names, or None when it names none."""
    s = _WRAP.sub(lambda m: m.group(1) or "", answer).strip()
    if not s:
        return None
    if _LETTER_SET.match(s):
        return frozenset(re.findall(r"[A-J]", s))
    lone = _LEADING.match(s)
    if lone and (not choices or LETTERS.index(lone.group(1).upper()) < len(choices)):
        return frozenset(lone.group(1).upper())
    return _by_option_text(s, choices) if choices else None


def _by_option_text(answer: str, choices: list[str]) -> frozenset[str] | None:
    """The option whose text the answer is, or the only option whose text it contains."""
    wanted = normalize(answer)
    options = [normalize(option) for option in choices[: len(LETTERS)]]
    for index, option in enumerate(options):
        if wanted and option == wanted:
            return frozenset(LETTERS[index])
    padded = f" {wanted} "
    inside = [i for i, option in enumerate(options) if option and f" {option} " in padded]
    return frozenset(LETTERS[inside[0]]) if len(inside) == 1 else None


def find_in_text(text: str) -> str | None:
    """The last option letter named in running text ("... so the answer is (C)")."""
    for pattern in (_IN_TEXT, _PARENTHESISED):
        found = None
        for found in pattern.finditer(text):  # noqa: B007 - keep the last
            pass
        if found:
            return found.group(1).upper()
    return None


def compare(pred: frozenset[str], gold: frozenset[str]) -> tuple[bool, str]:
    shown = ", ".join(sorted(pred))
    want = ", ".join(sorted(gold))
    if pred == gold:
        return True, f"chose {shown}"
    return False, f"chose {shown}, expected {want}"
