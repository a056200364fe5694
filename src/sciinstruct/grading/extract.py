"""Pull the final answer out of a model's full solution, and tidy its LaTeX.

Order of preference, most explicit first: the last `\\boxed{...}` / `\\fbox{...}` (nested braces,
or `\\boxed 5` without braces; boxes joined by "and", `\\quad`, commas are one answer), "the
(final) answer is ..." in English, Chinese, French, German, Spanish, Russian or Japanese,
"Answer: ...", the whole text when it is a single short line, the final statement of the text
(its last math span, or what follows the last `=` of its last line, remarks such as "where we
used ..." set aside), and only then the last number in the text (reported as a fallback).
Chat-template debris after the answer (`<|im_end|>`, a following `<|im_start|>user` turn) is cut
off first. Every scan is a single linear pass, so a 100,000-character answer costs milliseconds.

This module owns the package's one `\\boxed` extractor (`find_boxed`); the one `\\text{}`
unwrapper is `text.unwrap_text` and the one number pattern `numeric.NUMBER_PATTERN`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sciinstruct.grading.numeric import NUMBER_PATTERN

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
    r"(?:[ \t$,;]|\\q?quad|\\[,;!()\[\]]|\b(?:and|or)\b|\\text\{\s*(?:and|or|,)?\s*\})*"
    r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?"
)
# "The answer is", as models write it in en, zh, fr, de, es, ru and ja.
ANSWER_IS = re.compile(
    r"(?i)(?:\b(?:the\s+)?(?:final\s+|correct\s+|right\s+)?answer\s+(?:is|would\s+be|will\s+be)"
    r"|(?:最终|正确)?答案(?:应该|应)?(?:是|为)|正确的?选项(?:是|为)|答えは|正解は"
    r"|\bla\s+(?:bonne\s+|seule\s+)?réponse\s+(?:correcte\s+|finale\s+)?est"
    r"|\bdie\s+(?:richtige\s+|korrekte\s+)?(?:End)?antwort\s+(?:ist|lautet)"
    r"|\bla\s+respuesta\s+(?:correcta\s+|final\s+)?es(?:\s+la)?"
    r"|(?:правильный\s+|окончательный\s+)?ответ\s*(?:—|-|это|:)"
    r")\s*[:：=]?\s*"
)
_ANSWER_LABEL = re.compile(
    r"(?im)^[\s>*#_]*(?:(?:final\s+)?answer|(?:最终)?答案|答え|réponse|antwort|respuesta|ответ)"
    r"\s*[*_]*\s*[:：][*_]*\s*|^\s*####\s*"  # and GSM8K's "#### 42"
)
# Chat-template markers: whatever follows one was not the answer (a next turn, a new question).
_CHAT_DEBRIS = re.compile(
    r"<\|(?:im_end|im_start|endoftext|eot_id|end|user|assistant|start_header_id)\|>"
    r"|</s>|<end_of_turn>|<start_of_turn>|\n(?:Human|User):"
)
# A line that comments on the result rather than stating it: "where we used 1 J = 1 N m".
_REMARK = re.compile(r"(?i)^\s*(?:where|here|note|recall|since|because|as\s+we|using|\()")
_LAST_NUMBER = re.compile(NUMBER_PATTERN)


@dataclass(frozen=True)
class Extraction:
    """The final answer found in a text and how it was found."""

    text: str
    how: str  # boxed | answer_is | answer_label | whole | statement | last_number

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


_BRACE = re.compile(r"\\[{}]|[{}]")
# Boxes tried from the end: real answers join a handful; 1,000 unclosed ones are an attack that
# would cost a scan to the end each.
_MAX_BOXES = 32


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The contents of the brace group opening at `text[start] == '{'` and the index after its
    closing brace, or None if it is never closed. `\\{` and `\\}` are literal braces."""
    depth = 0
    for match in _BRACE.finditer(text, start):
        brace = match.group(0)
        if len(brace) == 2:
            continue
        depth += 1 if brace == "{" else -1
        if depth == 0:
            return text[start + 1 : match.start()], match.end()
    return None


def _boxes(text: str) -> Iterator[tuple[int, int, str]]:
    """`(start, end, contents)` of each complete box, last first; a box that holds the one
    after it (`\\boxed{\\boxed{1}}`) ends the sequence: the inner one is the answer."""
    inner_start = len(text) + 1
    for match in list(_BOX.finditer(text))[-_MAX_BOXES:][::-1]:
        rest = match.end()
        while rest < len(text) and text[rest] == " ":
            rest += 1
        if rest < len(text) and text[rest] == "{":
            closing = _braced(text, rest)
            if closing is not None:
                if closing[1] > inner_start:
                    return
                inner_start = match.start()
                yield match.start(), closing[1], closing[0]
        elif rest > match.end():  # `\\boxed 5`: one token up to whitespace or `$`
            token = re.match(r"[^\s$]+", text[rest:])
            if token:
                inner_start = match.start()
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


# "Final Answer: The final answer is $10,455$.": a final answer stated after the last box
_FINAL_ANSWER = re.compile(r"(?i)\bfinal\s+answer\s+(?:is|:)\s*\S")


def after_boxed(text: str) -> str:
    """What follows the last complete box of `text` (a unit may: `$\\boxed{72}$ m`)."""
    for _, end, _ in _boxes(text):
        return text[end:]
    return ""


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


# How an answer was found, from most to least explicit; only the first three are the model's own
# statement of a final answer (a response cut off by the token limit is credited only by those).
EXPLICIT = ("boxed", "answer_is", "answer_label")


def strip_chat_debris(text: str) -> str:
    """`text` up to the first chat-template marker: a small model that runs on past its turn
    (`<|im_end|>`, `<|im_start|>user ...`) writes a new question and answers it too."""
    match = _CHAT_DEBRIS.search(text)
    return text[: match.start()] if match else text


def extract(text: str) -> Extraction | None:
    """The final answer of a solution, or None when it holds nothing answer-like."""
    text = strip_chat_debris(sanitize(text)).strip()
    if not text:
        return None
    boxed = find_boxed(text)
    if boxed is not None and not _FINAL_ANSWER.search(after_boxed(text)):
        return Extraction(clean(boxed), "boxed")  # unless "The final answer is ..." follows it
    for how, pattern in (("answer_is", ANSWER_IS), ("answer_label", _ANSWER_LABEL)):
        found = _after_last(pattern, text)
        if found:
            inner = find_boxed(found)
            if inner is None:  # "**Final Answer:** $x = 2$ or $x = 3$": two values
                inner = assignments(_MATH_SPAN.sub(_group, found))
            if inner is None:
                math = _MATH_SPAN.match(found)  # "$x = 5$ because ..."
                inner = _group(math) if math else _before_clause(found)
            return Extraction(clean(inner), how)
    text = without_hypotheticals(text)
    said = number_word(text)
    if said is not None:  # "The positive root of $x^2 = 9$ is three."
        return Extraction(said, "statement")
    if len(text) <= _SHORT_RESPONSE_CHARS and "\n" not in text:
        several = assignments(text)  # "so x = 1 or x = -2": one answer, two values
        if several is None and _MATH_SPAN.search(text) and _TRAILING_CONDITION.search(text):
            several = final_statement(text)  # "... is $-1$, attained at $x = 2$."
        return Extraction(clean(several or text), "whole")
    statement = final_statement(text)
    if statement:
        return Extraction(clean(statement), "statement")
    number = last_number(text)
    return Extraction(number, "last_number") if number is not None else None


def _group(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g is not None)


def extract_answer(text: str) -> str | None:
    """The final answer of a solution as a string (see `extract` for how it is found)."""
    found = extract(text)
    return found.text if found is not None else None


_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$((?:\\.|[^\\$])+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
# "x = 1 or x = -2", "a = 7, b = 3": several assignments on the final line are one answer.
_ASSIGNMENT = re.compile(
    r"(?<![\w\\])([A-Za-z](?:_\{?\w+\}?)?)\s*=\s*([^=,;]+?)(?=\s*(?:,|;|\bor\b|\band\b|\.(?:\s|$)|$))"
)
_JOIN = re.compile(r"\s*(?:,|;|\bor\b|\band\b)?\s*")
# Where a statement's value ends: a new clause ("42, which is ...") or a sentence break.
_CLAUSE_END = re.compile(r",\s+(?=[^\W\d_]{2,})|\.(?:\s|$)(?!\d)")


def final_statement(text: str) -> str | None:
    """The answer an unanchored solution states last: the last math span of its final line
    (when only words follow it), the values of the assignments on that line, or what follows
    its last `=`. Trailing remarks ("where we used 1 J = 1 N m") are set aside first."""
    lines = [line for line in text.splitlines() if line.strip()]
    while len(lines) > 1 and _REMARK.match(lines[-1]):
        lines.pop()
    if not lines:
        return None
    last = lines[-1][-_STATEMENT_CHARS:]
    if lines[-1][:-_STATEMENT_CHARS].count("$") % 2:  # cut inside a math span: start after it
        last = last[last.find("$") + 1 :]
    condition = _TRAILING_CONDITION.search(last)
    if condition and re.search(r"[\d$]", last[: condition.start()]):
        last = last[: condition.start()]
    spans = list(_MATH_SPAN.finditer(last))
    if spans and not re.search(r"[\d=]", last[spans[-1].end() :]):
        inner = _group(spans[-1])
        return assignments(inner) or inner.rsplit("=", 1)[-1]  # a chain's last side
    tidy = _MATH_SPAN.sub(_group, last)
    several = assignments(tidy)
    if several:
        return several
    if "=" not in tidy:
        return None
    rhs = tidy.rsplit("=", 1)[1]
    end = _CLAUSE_END.search(rhs)
    rhs = (rhs[: end.start()] if end else rhs).strip()
    return rhs if re.search(r"\d|\\", rhs) else None


def assignments(line: str) -> str | None:
    """`1, -2` for `x = 1 or x = -2`: the values of two or more assignments to one variable,
    joined only by commas, "or", "and"; `a = 7, b = 3` for a system's solution (each variable
    once, names kept); None otherwise."""
    found = list(_ASSIGNMENT.finditer(line))
    names = [m.group(1) for m in found]
    if len(found) < 2 or len(set(names)) not in (1, len(names)):
        return None
    gaps = [line[a.end() : b.start()] for a, b in zip(found, found[1:], strict=False)]
    if not all(_JOIN.fullmatch(gap) for gap in gaps):
        return None
    if len(set(names)) > 1:
        return ", ".join(f"{m.group(1)} = {m.group(2).strip()}" for m in found)
    return ", ".join(m.group(2).strip() for m in found)


# A clause after the value that qualifies it: "is $-1$, attained at $x = 2$".
_TRAILING_CONDITION = re.compile(
    r",\s*(?:(?:which\s+is\s+)?(?:attained|achieved|reached|obtained)|occurring|when|whenever"
    r"|at|where)\b[^,]*$"
)
# A new clause after an answer's value: "14, since 14 is ...", not "1, 2, and 3".
_CLAUSE = re.compile(r",\s+(?!(?:and|or|und|oder|et|ou)\b)(?=[^\W\d_]{2,})|;\s|\.(?:\s|$)(?!\d)")


def _before_clause(answer: str) -> str:
    """`14` for `14, since 14 is the only value ...`: a value that opens a sentence, without
    the reasons that follow it (the answer itself when it opens with words)."""
    cut = _CLAUSE.search(answer)
    head = answer[: cut.start()].strip() if cut else answer
    return head if head and re.match(r"[-+−(\[\\\d.]", head) else answer


# A sentence that supposes rather than states: "This would be 8 if we had multiplied".
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_HYPOTHETICAL = re.compile(
    r"(?i)^(?:if|suppose|assuming|had)\b|\bwould\b.*\b(?:if|instead|otherwise|but)\b"
    r"|\b(?:if|instead|otherwise)\b.*\bwould\b"
)


def without_hypotheticals(text: str) -> str:
    """`text` without the hypothetical sentences of its last line: a stated answer never sits in
    one ("If the series converged, its sum would be 1/2. But it diverges.")."""
    head, _, last = text.rpartition("\n")
    sentences = _SENTENCE.split(last)
    kept = [s for s in sentences if not _HYPOTHETICAL.search(s)]
    if len(kept) == len(sentences) or not kept:
        return text if kept else head.rstrip() or text
    return f"{head}\n{' '.join(kept)}" if head else " ".join(kept)


_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORD = re.compile(
    rf"(?i)\b(?:is|are|equals|was|be|gives|get)\s+(?:exactly\s+)?"
    rf"((?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_UNITS[1:10])}))?|{'|'.join(_UNITS)})"
    r"\s*[.!]?\s*$"
)


def number_word(text: str) -> str | None:
    """`3` for a final sentence that ends "... is three." (0 to 99 in English words)."""
    match = _NUMBER_WORD.search(text[-200:])
    if match is None:
        return None
    words = re.split(r"[- ]", match.group(1).lower())
    value = _TENS.index(words[0]) * 10 + 20 if words[0] in _TENS else _UNITS.index(words[0])
    if len(words) > 1:
        value += _UNITS.index(words[1])
    return str(value)


# The final line of a statement is read from its last characters only (a linear, bounded scan).
_STATEMENT_CHARS = 400


def last_number(text: str) -> str | None:
    """The last number written in `text` (with its exponent, if any)."""
    last = None
    for last in _LAST_NUMBER.finditer(text):  # noqa: B007
        pass
    return re.sub(r"\s+", "", last.group(0)).replace("−", "-") if last else None


_MATH_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_REWRITES = (
    (re.compile(r"(?<=\d),\\!\s*(?=\d{3})"), ","),  # 48,\! 216: a thousands separator
    (re.compile(r"\\[dt]frac\b"), r"\\frac"),
    (re.compile(r"\*\*(.+?)\*\*|__(.+?)__"), lambda m: m.group(1) or m.group(2)),  # **17**
    (re.compile(r"\\\$"), ""),
    (re.compile(r"\\langle\b"), "("),  # a vector <1, 2, 3> is the tuple (1, 2, 3)
    (re.compile(r"\\rangle\b"), ")"),
    (re.compile(r"π"), r"\\pi "),
    (re.compile(r"∞"), r"\\infty "),
    (re.compile(r"−"), "-"),  # an escaped dollar sign: "\$12.50" is 12.50
    (re.compile(r"\\left\s*(?=[(\[|.])|\\right\s*(?=[)\]|.])"), ""),
    (re.compile(r"\\left\s*\\\{"), r"\\{"),
    (re.compile(r"\\right\s*\\\}"), r"\\}"),
    (re.compile(r"\\(?:displaystyle|textstyle|!|quad|qquad)\b|\\!"), ""),
    (re.compile(r"\\(?:text|textnormal|textrm|mbox)\s*\{\s*(?:and|or)\s*\}"), ", "),
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
