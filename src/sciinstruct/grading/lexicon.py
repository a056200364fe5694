"""The words and small patterns several grading modules read answers with, defined once.

Per-language word lists are data here; each module builds the few patterns it needs from them,
so adding a language's "or" reaches every place that splits or hedges on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# "and" / "or" in the languages answers are written in.
AND = {"en": "and", "de": "und", "fr": "et", "es": "y", "ru": "и"}
OR = {"en": "or", "de": "oder", "fr": "ou", "es": "o", "ru": "или"}
LATIN = ("en", "de", "fr", "es")
# Chinese "and" / "or" as single characters (和, 与, 及, 或), written with no space around them:
# the body of a character class.
ZH_AND_OR = "和与及或"
# "not", as it rules a value or an option out.
NOT = {"en": "not", "de": "nicht", "fr": "non", "ru": "не", "zh": "不是"}
# "part", as it labels the parts of a question ("Part (a)", "Teil b)").
PART = {"en": "part", "de": "teil", "fr": "partie", "es": "parte"}
# "answer", as a label ("Answer:", "答案：") opens it.
ANSWER = {
    "en": "answer",
    "zh": "答案",
    "ja": "答え",
    "fr": "réponse",
    "de": "antwort",
    "es": "respuesta",
    "ru": "ответ",
}

# "The answer is", as models write it: per language, a regex fragment (the caller adds what may
# follow: a colon, an equals sign).
ANSWER_IS_PHRASES = {
    "en": r"\b(?:the\s+)?(?:final\s+|correct\s+|right\s+)?answer\s+(?:is|would\s+be|will\s+be)",
    "zh": r"(?:最终|正确)?答案(?:应该|应)?(?:是|为)|正确的?选项(?:是|为)",
    "ja": r"答えは|正解は",
    "fr": r"\bla\s+(?:bonne\s+|seule\s+)?réponse\s+(?:correcte\s+|finale\s+)?est",
    "de": r"\bdie\s+(?:richtige\s+|korrekte\s+)?(?:End)?antwort\s+(?:ist|lautet)",
    "es": r"\bla\s+respuesta\s+(?:correcta\s+|final\s+)?es(?:\s+la)?",
    "ru": r"(?:правильный\s+|окончательный\s+)?ответ\s*(?:—|-|это|:)",
}


def word_list(text: str) -> tuple[str, ...]:
    """The words of `text`, split at whitespace: a long word list written as one string."""
    return tuple(text.split())


def words(*tables: dict[str, str], languages: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The words of `tables` (all languages, or only `languages`), in table order."""
    return tuple(t[lang] for t in tables for lang in t if languages is None or lang in languages)


def alternation(*tables: dict[str, str], languages: tuple[str, ...] | None = None) -> str:
    """The words of `tables` as a regex alternation (no group, no boundaries: the caller adds
    them)."""
    return "|".join(map(re.escape, words(*tables, languages=languages)))


# The degree sign in LaTeX: `^\circ`, `^{\circ}`, `^ { \circ }` (the `°` glyph is the caller's).
DEGREE_SIGN = r"\^\s*\{?\s*\\circ\s*\}?"
# A sign that makes a relation approximate: `\approx`, `\cong`, `\simeq`, `\sim`, `\doteq`, `≈`.
APPROX_SIGN = r"\\(?:approx|cong|simeq|sim|doteq)(?![A-Za-z])|[≈≃≅]"
# The gap after a sentence's final `.`, `!` or `?` (where a split leaves the mark on the left).
SENTENCE_BREAK = r"(?<=[.!?])\s+"
# A word of three letters or more (no digit, no underscore): prose, not a variable.
WORD = re.compile(r"[^\W\d_]{3,}")
# The end of a math span: `$`, `\]`, `\)`.
MATH_CLOSE = re.compile(r"\$|\\\]|\\\)")
# Math delimiters (`$`, `\(`, `\)`, `\[`, `\]`) and LaTeX spacing commands (`\,`, `~`): noise
# around a quantity or a list item once its math is read as text.
MATH_DELIMITERS = re.compile(r"\$|\\[()\[\]]")
SPACING = re.compile(r"\\[,;: !]|~")


# One step of a rewrite table: a pattern and its replacement, or a `str.maketrans` table for
# single characters (no regex needed to swap `−` for `-`).
Rewrite = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]] | dict[int, str]


def rewrite(text: str, steps: tuple[Rewrite, ...]) -> str:
    """`text` with each step of `steps` applied in order."""
    for step in steps:
        if isinstance(step, dict):
            text = text.translate(step)
        else:
            pattern, repl = step
            text = pattern.sub(repl, text)
    return text
