"""Pull the final answer out of a model's full solution, and tidy its LaTeX.

Order of preference, most explicit first: the last `\\boxed{...}` / `\\fbox{...}` (nested braces,
or `\\boxed 5` without braces), "the (final) answer is ...", "Answer: ...", the whole text when
it is a single short line, and only then the last number in the text (reported as a fallback).
Every scan is a single linear pass, so a 100,000-character answer costs milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# A final answer longer than this is not an answer but an essay (or an attack); 1,000
# characters fits any matrix or set a benchmark asks for.
MAX_ANSWER_CHARS = 1000
# A whole response up to this long, on one line, is taken to be the answer itself.
_SHORT_RESPONSE_CHARS = 200

_SURROGATES = re.compile("[\ud800-\udfff]")
_BOX = re.compile(r"\\(?:boxed|fbox)\b")
# What may stand between two boxes that together are one answer, on one line: "$ or $x=",
# ", ", " and ". Anything more ("but correcting the sign,") means the last box replaces the rest.
_BOX_JOINER = re.compile(
    r"[ \t$,;]*(?:(?:and|or|\\text\{\s*(?:and|or)\s*\}|\\quad)[ \t$,;]*)?"
    r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?"
)
_ANSWER_IS = re.compile(
    r"(?i)\b(?:the\s+)?(?:final\s+)?answer\s+(?:is|would\s+be|will\s+be)\s*[:=]?\s*"
)
_ANSWER_LABEL = re.compile(r"(?im)^[\s>*#_]*(?:final\s+)?answer\s*[*_]*\s*[:：][*_]*\s*")
NUMBER = r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*[eE][-+−]?\d+)?|[-+−]?\.\d+"
_LAST_NUMBER = re.compile(NUMBER)
# "The answer is $x = 5$ because ...": the math span that opens the answer line.
_LEADING_MATH = re.compile(
    r"\$\$((?:\\.|[^\\$])+?)\$\$|\$((?:\\.|[^\\$])+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]"
)


@dataclass(frozen=True)
class Extraction:
    """The final answer found in a text and how it was found."""

    text: str
    how: str  # boxed | answer_is | answer_label | whole | last_number

    @property
    def fallback(self) -> bool:
        return self.how == "last_number"


def sanitize(text: str | bytes | None) -> str:
    """Make any input a clean `str`: invalid UTF-8 and lone surrogates become U+FFFD, NULs go."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    # Lone surrogates (bytes decoded with surrogateescape) cannot be encoded: replace them.
    return _SURROGATES.sub("\ufffd", text).replace("\x00", "")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The contents of the brace group opening at `text[start] == '{'` and the index after its
    closing brace, or None if it is never closed."""
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            continue  # \{ and \} are literal braces, not grouping (the next char is skipped below)
        if ch == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return None


def _boxes(text: str) -> Iterator[tuple[int, int, str]]:
    """`(start, end, contents)` of each complete box, last first."""
    for match in reversed(list(_BOX.finditer(text))):
        rest = match.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if rest < len(text) and text[rest] == "{":
            braced = _braced(text, rest)
            if braced is not None:
                yield match.start(), braced[1], braced[0]
        elif rest > match.end():  # `\boxed 5`: one token up to whitespace or `$`
            token = re.match(r"[^\s$]+", text[rest:])
            if token:
                yield match.start(), rest + token.end(), token.group(0)


def find_boxed(text: str) -> str | None:
    """The contents of the last complete `\\boxed{...}`, `\\fbox{...}` or `\\boxed X`.

    Boxes written as one answer (`$x=\\boxed{2}$ or $x=\\boxed{3}$`) are joined: `2, 3`.
    """
    parts: list[str] = []
    start = None
    for box_start, box_end, contents in _boxes(text):
        if start is not None and not _BOX_JOINER.fullmatch(text[box_end:start]):
            break
        parts.append(contents)
        start = box_start
    return ", ".join(reversed(parts)) if parts else None


def _after_last(pattern: re.Pattern[str], text: str) -> str | None:
    """What follows the last match of `pattern`, up to the end of that line."""
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - we want the final match
        pass
    if last is None:
        return None
    line = text[last.end() :].split("\n", 1)[0].strip()
    if not line:  # "Answer:\n  42": the answer is on the next non-blank line
        following = [ln.strip() for ln in text[last.end() :].split("\n") if ln.strip()]
        line = following[0] if following else ""
    return line or None


def extract(text: str) -> Extraction | None:
    """The final answer of a solution, or None when it holds nothing answer-like."""
    text = sanitize(text).strip()
    if not text:
        return None
    boxed = find_boxed(text)
    if boxed is not None:
        return Extraction(clean(boxed), "boxed")
    for how, pattern in (("answer_is", _ANSWER_IS), ("answer_label", _ANSWER_LABEL)):
        found = _after_last(pattern, text)
        if found:
            inner = find_boxed(found)
            if inner is None:
                math = _LEADING_MATH.match(found)
                inner = next(g for g in math.groups() if g is not None) if math else found
            return Extraction(clean(inner), how)
    if len(text) <= _SHORT_RESPONSE_CHARS and "\n" not in text:
        return Extraction(clean(text), "whole")
    number = last_number(text)
    return Extraction(number, "last_number") if number is not None else None


def extract_answer(text: str) -> str | None:
    """The final answer of a solution as a string (see `extract` for how it is found)."""
    found = extract(text)
    return found.text if found is not None else None


def last_number(text: str) -> str | None:
    """The last number written in `text` (with its exponent, if any)."""
    last = None
    for last in _LAST_NUMBER.finditer(text):  # noqa: B007
        pass
    return last.group(0).replace("−", "-") if last else None


_MATH_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_REWRITES = (
    (re.compile(r"\\[dt]frac\b"), r"\\frac"),
    (re.compile(r"\\\$"), ""),
    (re.compile(r"π"), r"\\pi "),
    (re.compile(r"∞"), r"\\infty "),
    (re.compile(r"−"), "-"),  # an escaped dollar sign: "\$12.50" is 12.50
    (re.compile(r"\\left\s*(?=[(\[|.])|\\right\s*(?=[)\]|.])"), ""),
    (re.compile(r"\\left\s*\\\{"), r"\\{"),
    (re.compile(r"\\right\s*\\\}"), r"\\}"),
    (re.compile(r"\\(?:displaystyle|textstyle|!|quad|qquad)\b|\\!"), ""),
    (re.compile(r"\\(?:text|textbf|textit|mbox)\s*\{\s*(?:and|or)\s*\}"), ", "),
    (re.compile(r"\s+"), " "),
)


def clean(answer: str) -> str:
    """Tidy an extracted answer: math delimiters, `\\dfrac`, `\\left(`, spacing, a final period.

    `\\text{...}` and `\\mathrm{...}` are kept: units and text answers need them, and each answer
    type strips them its own way.
    """
    s = answer.strip()
    for pattern, repl in _REWRITES:
        s = pattern.sub(repl, s)
    s = s.strip()
    changed = True
    while changed and s:
        changed = False
        for left, right in _MATH_DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s, changed = s[len(left) : len(s) - len(right)].strip(), True
        if s.endswith((".", "。")) and not s.endswith(".."):
            s, changed = s[:-1].rstrip(), True
        if s.startswith("$") and s.count("$") == 1:  # "$5" or "$12.50": a dollar amount
            s, changed = s[1:].strip(), True
    return s


def brace_depth(s: str) -> int:
    """The deepest `{`/`(`/`[` nesting in `s` (used to refuse pathological inputs cheaply)."""
    depth = deepest = 0
    for ch in s:
        if ch in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "})]":
            depth = max(0, depth - 1)
    return deepest
