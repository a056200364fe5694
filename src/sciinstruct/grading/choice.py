"""Multiple choice: a letter, `(B)`, the option's text, or several letters as a set."""

from __future__ import annotations

import re

from sciinstruct.grading.text import normalize, unwrap_text

LETTERS = "ABCDEFGHIJ"
_MARKUP = re.compile(r"\*\*|__|\$")
# A letter set in a font or a box: `$\mathbf{C}$`, `\textbf{(B)}`.
_FONT_LETTER = re.compile(
    r"\\(?:math(?:bf|rm|it|sf|tt)|text(?:bf|rm|it)?|boxed)\s*\{\s*(\(?[A-Ja-j]\)?)\s*\}"
)
# Russian tests letter their options А, Б, В, Г, Д (В is the third: C).
_CYRILLIC = str.maketrans("АБВГДабвгд", "ABCDEABCDE")
_CYRILLIC_LONE = re.compile(r"^[\s(\[]*[АБВГДабвгд](?:[)\].:,;]|\s*$)")
# "B", "(B)", "B.", "B)", "[B]", "b", "B) 42 N", "B，不是 A", "C et non A", "B Marcus": a lone
# letter, then punctuation, nothing, or (a capital letter only) a space ("I pick London" starts
# with a word, not option I).
_LEADING = re.compile(r"^[\s(\[{]*(?:([A-Ja-j])(?:[)\]}.:,;，。；、]|$)|([A-J])(?=\s))")
# "A, C", "A and C", "(A)(C)", "A C": letters and separators only.
_LETTER_SET = re.compile(r"^[\s(\[]*[A-J][\s)\]]*(?:(?:,|;|/|&|and|\s)*[\s(\[]*[A-J][\s)\]]*)*$")
# In running text: "the correct option is (C)", "choice B", "answer: D".
_IN_TEXT = re.compile(
    r"(?:option|choice|answer(?:\s+is)?|correct\s+(?:one|option|choice)\s+is)\s*[:\-]?\s*"
    r"\(?([A-J])\)?(?![\w])",
    re.IGNORECASE,
)
_PARENTHESISED = re.compile(r"\(([A-J])\)")
# "It must be D", "I would choose B", "C is correct": a letter the text settles on.
_SETTLED = re.compile(
    r"(?:\b(?:must|should|would|has\s+to|have\s+to)\s+be|\b(?:choose|pick|select|go\s+with)"
    r"|\b[Ii]t(?:'s|\s+is))\s+(?:option\s+|choice\s+)?\(?([A-J])\)?(?![\w])"
    r"|(?<![\w])\(?([A-J])\)?\s+is\s+(?:the\s+)?(?:correct|right|best|true)\b"
)
# Letters a text rules out: "not C", "non A", "nicht B", "不是 A", "B and C fail".
_RULED_OUT_BEFORE = re.compile(
    r"(?:\bnot|\bnon|\bnicht|\bno|\bне|不是|并非|而非|ではなく|\bexcept|\bexcluding|\brule\s+out"
    r"|\beliminate)\s*(?:option\s+|choice\s+)?\(?$",
    re.IGNORECASE,
)
_RULED_OUT_AFTER = re.compile(
    r"^\)?(?:\s*(?:,|and|or)\s*\(?[A-J]\)?)*\s*(?:fails?\b|(?:is|are)\s+(?:wrong|incorrect|"
    r"ruled\s+out|impossible|false)|can(?:not|'t)?\s+be\s+ruled|错|不对|不正确)",
    re.IGNORECASE,
)


def letters(answer: str, choices: list[str] | None = None) -> frozenset[str] | None:
    """The option letters an answer names, or None when it names none."""
    s = _MARKUP.sub("", unwrap_text(_FONT_LETTER.sub(r"\1", answer))).strip()
    if not s:
        return None
    if _CYRILLIC_LONE.match(s):
        s = s.translate(_CYRILLIC)
    if _LETTER_SET.match(s):
        return frozenset(re.findall(r"[A-J]", s))
    lone = _LEADING.match(s)
    letter = (lone.group(1) or lone.group(2)).upper() if lone else None
    if letter and (not choices or LETTERS.index(letter) < len(choices)):
        return frozenset(letter)
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
    if len(inside) == 1:
        return frozenset(LETTERS[inside[0]])
    return _by_option_value(answer, choices[: len(LETTERS)])


def _by_option_value(answer: str, choices: list[str]) -> frozenset[str] | None:
    """The only option whose quantity equals the answer's ("42 newtons" is "42 N")."""
    from sciinstruct.grading.numeric import compare, parse_quantity

    said = parse_quantity(answer)
    if said is None:
        return None
    same = []
    for index, option in enumerate(choices):
        value = parse_quantity(option)
        if value is not None and compare(said, value, rtol=1e-9)[0]:
            same.append(index)
    return frozenset(LETTERS[same[0]]) if len(same) == 1 else None


def find_in_text(text: str) -> str | None:
    """The last option letter running text settles on ("... so the answer is (C)", "It must be
    D; B and C fail"), leaving out the letters it rules out ("Not C, ...")."""
    text = _MARKUP.sub("", _FONT_LETTER.sub(r"\1", text))
    for pattern in (_IN_TEXT, _SETTLED, _PARENTHESISED):
        kept = None
        for found in pattern.finditer(text):
            group = next(g for g in (found.group(i) for i in range(1, pattern.groups + 1)) if g)
            start = found.start() + found.group(0).rindex(group)
            if not _ruled_out(text, start):
                kept = group.upper()
        if kept:
            return kept
    return None


def _ruled_out(text: str, start: int) -> bool:
    """True when the letter at `text[start]` is one the text rules out."""
    before = text[max(0, start - 20) : start]
    after = text[start + 1 : start + 60]
    return bool(_RULED_OUT_BEFORE.search(before) or _RULED_OUT_AFTER.match(after))


def compare(pred: frozenset[str], gold: frozenset[str]) -> tuple[bool, str]:
    shown = ", ".join(sorted(pred))
    want = ", ".join(sorted(gold))
    if pred == gold:
        return True, f"chose {shown}"
    return False, f"chose {shown}, expected {want}"
