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
# A part's label: "(a)", "b)", "Part (c):", "Teil ii)" (`label` is its letter or numeral).
PART_LABEL_PATTERN = (
    rf"(?:(?:{'|'.join(PART.values())})\s*)?\(?(?P<label>[a-hA-H]|i{{1,3}}|iv|vi?)\)\s*[:.：]?"
)
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

# Answer labels in brackets, as Chinese exam keys write them: "【答案】B", "【正确答案】12".
BRACKETED_ANSWER = ("答案", "正确答案", "最终答案", "Answer")
BRACKETS = ("【", "】")
# Tokens some models and benchmark harnesses end an answer or an explanation with (GAOKAO-style
# prompts ask for "<eoa>" after the answer): whatever follows one is not the answer.
END_OF_ANSWER = ("<eoa>", "<eoe>", "<EOA>", "<EOE>")
# Chat-template markers: whatever follows one is a next turn or a new question.
CHAT_MARKERS = (
    "<|im_end|>",
    "<|im_start|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end|>",
    "<|user|>",
    "<|assistant|>",
    "<|start_header_id|>",
    "</s>",
    "<end_of_turn>",
    "<start_of_turn>",
)
# What a solution says when it finds that the asked value cannot be worked out from what it was
# given ("题目没有提供……，所以我们无法直接计算出慢跑的确切步数"): lower-case phrases, found as
# substrings of its last lines. A number it computed on the way is then no answer.
CANNOT_DETERMINE = {
    "en": (
        "cannot be determined",
        "cannot determine",
        "cannot be calculated",
        "not enough information",
    ),
    "zh": ("无法计算", "无法直接计算", "无法确定", "无法求出", "无法得出"),
}
# Words that open a solution's concluding sentence ("Therefore, she will spend $180 on ice
# cream in 60 days."): lower-case, per language. Such a sentence states the answer even with no
# copula, when its one number the question did not give is the value (`extract`).
CONCLUDING = {
    "en": ("therefore", "so", "thus", "hence", "in total", "altogether", "in all", "finally"),
    "de": ("also", "somit", "daher", "insgesamt"),
    "fr": ("donc", "ainsi", "au total"),
    "es": ("por lo tanto", "así", "en total"),
    "zh": ("所以", "因此", "总共", "一共"),
}
# How a multi-select answer names its letters ("Therefore, the correct options are (A) and
# (C)."): a sentence with one of these names all the letters it does not rule out, not its last.
SEVERAL_OPTIONS = ("options are", "choices are", "answers are", "statements are", "选项是")
# Words that open a sentence explaining the one before it ("That means 4 sandbags ..."):
# the statement before it holds the answer.
EXPLAINING = {
    "en": ("that means", "this means", "which means", "in other words", "this is because"),
}
# An option label in front of a value in a free-form answer ("the answer is (b) 42"): the
# label is not part of the value.
OPTION_LABEL = r"[(（]\s*[a-hA-H]\s*[)）]"
# "The answer is", as models write it: per language, a regex fragment (the caller adds what may
# follow: a colon, an equals sign).
ANSWER_IS_PHRASES = {
    # zero-shot-CoT's trigger puts the format in parentheses: "the answer (arabic numerals) is"
    "en": r"\b(?:the\s+)?(?:final\s+|correct\s+|right\s+)?answer\s+(?:\([^()\n]{1,40}\)\s+)?"
    r"(?:is|would\s+be|will\s+be)",
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
PART_LABEL = re.compile(rf"^\s*{PART_LABEL_PATTERN}\s*", re.IGNORECASE)
# A line or a function being defined, before its `=`: `y`, `g(x)`, `f(x, y)` (`y = 3x - 1`:
# the equation is the answer).
DEFINED = re.compile(r"\s*(?:[A-Za-z]\s*\(\s*[a-z](?:\s*,\s*[a-z])*\s*\)|y)\s*")
# A LaTeX command and its arguments: `\\frac{1}{2}`, `\\sqrt{2}`, `\\approx`.
LATEX_COMMAND = re.compile(r"\\[A-Za-z]+(?:\s*\{[^{}]*\})*")
# A word of three letters or more (no digit, no underscore): prose, not a variable.
WORD = re.compile(r"[^\W\d_]{3,}")
# Math delimiters (`$`, `\(`, `\)`, `\[`, `\]`) and LaTeX spacing commands (`\,`, `~`): noise
# around a quantity or a list item once its math is read as text; `MATH_CLOSERS` end a span.
MATH_DELIMITERS = re.compile(r"\$|\\[()\[\]]")
MATH_CLOSERS = ("$", "\\]", "\\)")
SPACING = re.compile(r"\\[,;: !]|~")


def last_match(
    pattern: re.Pattern[str], text: str, kinds: tuple[str, ...] = ()
) -> re.Match[str] | None:
    """The last match of `pattern` in `text` (of one of the texts `kinds`, when given), or None."""
    last = None
    for match in pattern.finditer(text):
        if not kinds or match[0] in kinds:
            last = match
    return last


def last_math_close(text: str) -> re.Match[str] | None:
    """Where the last math span of `text` ends: its last `$`, `\\]` or `\\)`."""
    return last_match(MATH_DELIMITERS, text, MATH_CLOSERS)


# One step of a rewrite table: a pattern and its replacement, or a `str.maketrans` table for
# single characters (no regex needed to swap `−` for `-`).
Rewrite = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]] | dict[int, str]


def substitutions(*rows: tuple[str, str | Callable[[re.Match[str]], str]]) -> Rewrite:
    """One rewrite step for a table of independent rewrites: `(pattern, replacement)` rows
    (a literal string, or a function of the match) compiled into one alternation and applied
    in one left-to-right pass, the first row that matches at a position winning. Rows must not
    feed each other (a row's output is not read again by another row)."""
    pattern = re.compile("|".join(f"(?P<r{i}>{row})" for i, (row, _) in enumerate(rows)))
    replacements = [replacement for _, replacement in rows]

    def replace(match: re.Match[str]) -> str:
        replacement = replacements[int(match.lastgroup[1:])]  # type: ignore[index]
        return replacement(match) if callable(replacement) else replacement

    return pattern, replace


def rewrite(text: str, steps: tuple[Rewrite, ...]) -> str:
    """`text` with each step of `steps` applied in order."""
    for step in steps:
        if isinstance(step, dict):
            text = text.translate(step)
        else:
            pattern, repl = step
            text = pattern.sub(repl, text)
    return text
