"""The prompt and verdict formats a model verifier speaks, chosen by name (`--judge-format`).

A trained verifier answers well only in the format it was trained on, so each format is a
prompt file and a reader of the replies it asks for:

- `sciinstruct`: our own prompt (`prompts/<lang>/grade_judge.md`), a final line
  `Verdict: CORRECT` or `Verdict: INCORRECT`; any instruction-following model.
- `compassverifier`: CompassVerifier's grading scheme (open-compass/CompassVerifier): the
  letter `A` (correct), `B` (incorrect) or `C` (invalid: the response is cut off, repeats
  itself in a loop, or gives no answer).
- `compassverifier-cot`: the same grades after a written analysis, ending
  `Final Judgment: \\boxed{C} - INCOMPLETE` (or REPETITIVE, REFUSAL).
- `xverify`: xVerify's (IAAR-Shanghai/xVerify): `[Correct]` or `[Incorrect]`, often written
  bare (`Correct`).

The prompts are ours, in `prompts/verifiers/`; they keep the models' section markers, field
order and labels, which the models were trained on. A reply in none of a format's forms is
`unparseable`, never guessed: the rules' verdict then stands, and the raw reply is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Label = Literal["correct", "incorrect", "invalid", "unparseable"]
# What every verifier prompt must show: the question, the response, the reference.
REQUIRED_PLACEHOLDERS: tuple[str | tuple[str, ...], ...] = (
    "question",
    "attempt",
    ("answer", "reference"),
)


@dataclass(frozen=True)
class Decision:
    """What a verifier's reply says: its label, and the kind of an invalid response when the
    reply names one (`incomplete`, `repetitive`, `refusal`)."""

    label: Label
    detail: str | None = None


@dataclass(frozen=True)
class VerifierFormat:
    """One format: its prompt file (None: the language's `grade_judge.md`), the reader of its
    replies, the forms that reader accepts (for the reason of an unparseable reply) and how
    long a reply it needs."""

    name: str
    template: str | None
    parse: Callable[[str], Decision]
    expects: str
    max_tokens: int


def _after_thinking(raw: str) -> str:
    """The reply after a reasoning model's `</think>`: its verdict, not its deliberation."""
    return raw.rsplit("</think>", 1)[-1].strip()


# --- sciinstruct: "Verdict: CORRECT" ---------------------------------------------------------

# CORRECT or INCORRECT (`negative`), in any case; `bracketed` as xVerify writes it (`[Correct]`).
# The sciinstruct decision is the last one the judge writes (its template asks for a final
# "Verdict:" line; small models often add words around it).
_DECISION = re.compile(
    r"(?P<bracketed>\[\s*)?\b(?P<negative>IN)?CORRECT\b(?(bracketed)\s*\])", re.IGNORECASE
)


def parse_sciinstruct(raw: str) -> Decision:
    decisions = list(_DECISION.finditer(_after_thinking(raw)))
    if not decisions:
        return Decision("unparseable")
    return Decision("incorrect" if decisions[-1]["negative"] else "correct")


# --- CompassVerifier: A / B / C ----------------------------------------------------------------

_GRADES: dict[str, Label] = {"A": "correct", "B": "incorrect", "C": "invalid"}
# A grade: boxed, `\boxed{C} - INCOMPLETE` (the CoT form; the kind after the dash is optional),
# or one token of one: a capital A, B or C standing alone ("A", "(B)", "C: INVALID"), not inside
# a word, or a grade's word in any case ("not correct" is no CORRECT). A token is letters only,
# so it never hides a box.
_GRADE = re.compile(
    r"\\boxed\{\s*(?P<boxed>[ABC])\s*\}(?:\s*[-:\u2013\u2014]?\s*(?P<kind>[A-Za-z]+))?"
    r"|(?<![A-Za-z])(?:(?P<letter>[ABC])|(?<!not )"
    r"(?i:(?P<word>correct|incorrect|invalid|incomplete|repetitive|refusal)))(?![A-Za-z])"
)
_WORD_GRADE = {"correct": "A", "incorrect": "B"}  # the kinds of invalid all grade C
_INVALID_KINDS = ("incomplete", "repetitive", "refusal")
_FINAL_LINES = ("final judgment:", "final judgement:")
# A reply without a "Final Judgment:" line is read only when it is this short: the direct
# prompt asks for one letter, and a letter inside a longer text is not a grade.
_SHORT_REPLY = 40


def parse_compassverifier(raw: str) -> Decision:
    """The last `\\boxed{A|B|C}`; else, in the text after "Final Judgment:" (or in a short
    reply), the one grade its letters and words agree on; two different grades are
    unparseable."""
    text = _after_thinking(raw)
    boxed = [(box, kind) for box, kind, _, _ in _GRADE.findall(text) if box]
    if boxed:
        letter, kind = boxed[-1]
        return _grade(letter, kind)
    tail = _after_final_judgment(text)
    if tail is None and len(text) <= _SHORT_REPLY:
        tail = text
    if tail is None:
        return Decision("unparseable")
    tokens = [(letter, word) for _, _, letter, word in _GRADE.findall(tail)]  # no box in tail
    words = [word.lower() for _, word in tokens if word]
    letters = {letter for letter, _ in tokens if letter} | {_WORD_GRADE.get(w, "C") for w in words}
    if len(letters) != 1:
        return Decision("unparseable")
    kind = next((w for w in words if w in _INVALID_KINDS), "")
    return _grade(letters.pop(), kind)


def _after_final_judgment(text: str) -> str | None:
    """The text after the last "Final Judgment:" (or "Judgement:"); None without one."""
    lower = text.lower()
    ends = [lower.rfind(line) + len(line) for line in _FINAL_LINES if line in lower]
    return text[max(ends) :] if ends else None


def _grade(letter: str, kind: str) -> Decision:
    label = _GRADES[letter]
    kind = kind.lower()
    return Decision(label, kind if label == "invalid" and kind in _INVALID_KINDS else None)


# --- xVerify: [Correct] / [Incorrect] --------------------------------------------------------

_XVERIFY_LABELS: dict[str, Label] = {"correct": "correct", "incorrect": "incorrect"}


def parse_xverify(raw: str) -> Decision:
    """The reply's label: the whole reply (`Correct`, `[Incorrect].`), else its one bracketed
    label, else the label it opens with ("Correct. The output ..."); both labels bracketed
    (an echo of the instructions) or "Correct or ..." are unparseable."""
    text = _after_thinking(raw).strip().strip("\"'`*").strip()
    whole = text.strip("[]().!? \t\n").lower()
    if whole in _XVERIFY_LABELS:
        return Decision(_XVERIFY_LABELS[whole])
    found = [m for m in _DECISION.finditer(text) if m["bracketed"]]
    bracketed = {"incorrect" if m["negative"] else "correct" for m in found}
    if bracketed:
        return Decision(_XVERIFY_LABELS[bracketed.pop()] if len(bracketed) == 1 else "unparseable")
    words = text.lower().split(maxsplit=2)
    first = words[0].rstrip(".,:;!") if words else ""
    if first in _XVERIFY_LABELS and not (len(words) > 1 and words[1] in ("or", "and")):
        return Decision(_XVERIFY_LABELS[first])
    return Decision("unparseable")


# Reply budgets: a grade alone is a few tokens; CompassVerifier's analysis runs long (its
# authors sample up to 2,048 tokens).
FORMATS: dict[str, VerifierFormat] = {
    "sciinstruct": VerifierFormat(
        "sciinstruct", None, parse_sciinstruct, "CORRECT/INCORRECT", max_tokens=256
    ),
    "compassverifier": VerifierFormat(
        "compassverifier", "compassverifier.md", parse_compassverifier, "A/B/C", max_tokens=32
    ),
    "compassverifier-cot": VerifierFormat(
        "compassverifier-cot",
        "compassverifier-cot.md",
        parse_compassverifier,
        "\\boxed{A/B/C}",
        max_tokens=2048,
    ),
    "xverify": VerifierFormat(
        "xverify", "xverify.md", parse_xverify, "[Correct]/[Incorrect]", max_tokens=64
    ),
}
FORMAT_NAMES = tuple(FORMATS)


def verifier_format(name: str) -> VerifierFormat:
    """The format called `name`; an unknown name is an error listing the known ones."""
    from sciinstruct.errors import InputError

    if name not in FORMATS:
        raise InputError(
            f"unknown verifier format {name!r}; known: {', '.join(FORMAT_NAMES)}",
            field="judge_format",
        )
    return FORMATS[name]
