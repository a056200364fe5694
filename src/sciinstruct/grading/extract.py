"""Pull the final answer out of a model's full solution, and tidy its LaTeX.

Order of preference, most explicit first: the last `\\boxed{...}` / `\\fbox{...}` (nested braces,
or `\\boxed 5` without braces; boxes joined by "and", `\\quad`, commas are one answer), then the
later of "the (final) answer is ..." (English, Chinese, French, German, Spanish, Russian, Japanese)
and "Answer:" / "Final Answer:" / "结论：" (a response that revises itself is judged on its last
one; for a sentence after the label, the value right after it), the whole text when it is a
single short line without a statement, the final statement of the text, and only then the last
number in the text (reported as a fallback). The final statement is the last one of the asked
quantity (`question`, when given, picks it among several): the last side of its chain or what
follows its last copula (`=`, "is", "equals", "ist", "est", "равна", ...), with hypotheticals,
values ruled out ("27, not 81"), sign-offs ("I hope it is correct.") and closing asides set
aside. Chat-template debris after the answer (`<|im_end|>`, a following `<|im_start|>user` or
"User: ..." turn), a reasoning model's `<think>` part and GSM8K's `<<3*4=12>>` annotations are
cut off first; an `<answer>` tag is stated like "Answer:", and so is a "# Answer" heading. Every scan is a single linear pass over a bounded tail, so a
100,000-character answer costs milliseconds.

This module owns the package's one `\\boxed` extractor (`find_boxed`); the one `\\text{}`
unwrapper is `text.unwrap_text` and the one number pattern `numeric.NUMBER_PATTERN`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sciinstruct.grading.lexicon import (
    AND,
    ANSWER,
    ANSWER_IS_PHRASES,
    BRACKETED_ANSWER,
    BRACKETS,
    CANNOT_DETERMINE,
    CHAT_MARKERS,
    CONCLUDING,
    DEFINED,
    END_OF_ANSWER,
    EXPLAINING,
    NOT,
    OPTION_LABEL,
    OR,
    SENTENCE_BREAK,
    WORD,
    Rewrite,
    alternation,
    last_match,
    rewrite,
    substitutions,
    word_list,
)
from sciinstruct.grading.numeric import NUMBER, NUMBER_PATTERN, normalize_unit, parse_unit

# A final answer longer than this is not an answer but an essay (or an attack); 1,000
# characters fits any matrix or set a benchmark asks for.
MAX_ANSWER_CHARS = 1000
# A whole response up to this long, on one line, is taken to be the answer itself.
_SHORT_RESPONSE_CHARS = 200

BOX = re.compile(r"\\(?:boxed|fbox)\b")
# What may stand between two boxes that together are one answer, on one line: "$ or $x=",
# ", ", " and ". Anything more ("but correcting the sign,") means the last box replaces the rest.
_BOX_JOINER = re.compile(
    r"(?:[ \t$,;]|\\q?quad|\\[,;!()\[\]]|\b(?:and|or)\b|\\text\{\s*(?:and|or|,)?\s*\})*"
    r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?"
)
# "The answer is" in every language of the lexicon; "Answer:" opening a line or a sentence
# ("... ago. Final Answer: ...", "2. **结论**：..."); GSM8K's "#### 42"; a "# Answer" heading.
ANSWER_IS = re.compile(rf"(?i)(?:{'|'.join(ANSWER_IS_PHRASES.values())})\s*[:：=]?\s*")
ANSWER_LABEL = re.compile(
    r"(?im)(?:^|(?<=[.!?。]))[\s>*#_]*"
    rf"(?:(?:final\s+|最终)?(?:{alternation(ANSWER)})|conclusion|结论)"
    r"\s*[*_]*\s*[:：][*_]*\s*"
)
# GSM8K's "#### 42": opening its line, or after the prose conclusion on the same line.
GSM8K_MARKER = re.compile(r"(?m)^\s*####\s*|(?<=[.!?)\s])####[ \t]*(?=[-+−$\d.])")
# "【答案】B", "【正确答案】 12": a bracketed label, as Chinese exam keys write it.
BRACKETED_LABEL = re.compile(
    rf"{BRACKETS[0]}\s*(?:{'|'.join(BRACKETED_ANSWER)})\s*{BRACKETS[1]}\s*[:：]?\s*"
)
ANSWER_HEADING = re.compile(
    rf"(?im)^[ \t]*#{{1,6}}[ \t]*(?:final\s+)?(?:{alternation(ANSWER)})[ \t:：]*$"
)
# Chat-template markers: whatever follows one was not the answer (a next turn, a new question).
_CHAT_DEBRIS = re.compile(
    "|".join(map(re.escape, CHAT_MARKERS + END_OF_ANSWER)) + r"|(?:\n|(?<=>))[ \t]*(?:Human|User):"
)
# A reasoning model's tags: `<think>` reasoning `</think>`, then the answer, maybe tagged
# `<answer>...</answer>` (only the closing tag is sometimes written), maybe repeated.
_THINK_END = "</think>"
_TAGS = re.compile(r"</?(?:think|answer|br)\s*/?>")
_ANSWER_TAG = re.compile(r"(?s)<answer>((?:(?!</?answer>).)*)(?:</answer>|$)|</answer>")
# GSM8K's calculator annotations, `<<8*0.5=4>>`: what a tool computed, not a stated relation.
_CALCULATOR = re.compile(r"<<[^<>\n]{0,200}>>")
# A line that opens a new problem ("Question: ...", "Problem 2.", "Q:", "问题：", "Aufgabe 3:"):
# debris too, once the response has committed to an answer before it.
_NEW_PROBLEM = re.compile(
    r"(?im)^[\s#*>_]*(?:(?:new\s+|next\s+)?(?:question|problem|exercise|task)|q|问题|题目|例题"
    r"|aufgabe|frage|exercice|pregunta|problema|вопрос|задача)[*_]*(?:\s*\d+)?[*_]*\s*[:：.]"
)
# What commits a response to an answer before a new problem: a box, "#### 42", "Answer:", "the
# answer is".
_COMMITMENTS = (BOX, ANSWER_IS, ANSWER_LABEL, GSM8K_MARKER, ANSWER_HEADING, BRACKETED_LABEL)
# A line that comments on the result rather than stating it: "where we used 1 J = 1 N m", "(in
# joules)" (not an interval or a point: "(-1, 1) U (2, 3)"); or,
# holding no number, names what the line above it is ("这就是圆柱体的表面积公式。", "This is the
# largest area."): the answer is on the line before. Or a `sign_off` ("I hope it is correct."),
# which opens with other words: a text is of one kind or of neither (`_remark`).
_REMARK = re.compile(
    r"(?i)^\s*(?:(?P<sign_off>I\s+hope|hope\s+(?:this|it|that)|let\s+me\s+know|feel\s+free)"
    r"|where|here|note|recall|since|because|as\s+we|using|\((?![-+−]?\d)"
    r"|(?:这就?是|这便是|这个(?:结果|表达式|公式|值)|this\s+is\s+the\b)(?=[^\d$]*$))"
)
_ONE_NUMBER = re.compile(rf"\s*(?:[A-Za-z](?:_\{{?\w+\}}?)?\s*=\s*)?{NUMBER_PATTERN}\s*")


@dataclass(frozen=True)
class Candidate:
    """An answer read from a response: its `text` (tidied), `how` it was found (the kind of
    its rule, one of `KINDS`), the `rule` that read it (a name in `rules.RULES`, or a reading's
    in `readings.Readings`), the `span` of the response the rule matched, and the `value` it read
    there: the text before tidying, or what a reading made of it (a `numeric.Quantity`, a set
    of option letters)."""

    text: str
    how: str
    rule: str = ""
    span: tuple[int, int] | None = None
    value: Any = None

    def __post_init__(self) -> None:
        if not self.rule:
            object.__setattr__(self, "rule", self.how)

    @property
    def fallback(self) -> bool:
        return self.how == "last_number"


# How an answer was found, from most to least explicit.
KINDS = ("boxed", "answer_is", "answer_label", "whole", "statement", "last_number")


def sanitize(text: str | bytes | None) -> str:
    """Make any input a clean `str`: invalid UTF-8 and lone surrogates become U+FFFD, NULs go."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    try:  # the usual case, checked at C speed: nothing to replace
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (bytes decoded with surrogateescape)
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text.replace("\x00", "")


# Boxes tried from the end: real answers join a handful; 1,000 unclosed ones are an attack that
# would cost a scan to the end each.
_MAX_BOXES = 32


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The contents of the brace group opening at `text[start] == '{'` and the index after its
    closing brace, or None if it is never closed. `\\{` and `\\}` are literal braces."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] in ("{", "}"):
            i += 2  # `\{`: a literal brace
            continue
        if char in "{}":
            depth += 1 if char == "{" else -1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None


def _boxes(text: str) -> Iterator[tuple[int, int, str]]:
    """`(start, end, contents)` of each complete box, last first; a box that holds the one
    after it (`\\boxed{\\boxed{1}}`) ends the sequence: the inner one is the answer."""
    inner_start = len(text) + 1
    for match in list(BOX.finditer(text))[-_MAX_BOXES:][::-1]:
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


def box_lines(text: str) -> list[tuple[str, str]]:
    """`(line, contents)` of each complete box, in order: the line a box sits on (up to the
    box) and what it holds."""
    found = [(text[:start].rsplit("\n", 1)[-1], contents) for start, _, contents in _boxes(text)]
    return found[::-1]


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


# A reference's boxes are one answer when each gap between two is a few words that join them:
# "\\boxed{1} papers and \\boxed{2} bins" is `1, 2`; "\\boxed{1} no no no no no \\boxed{2}",
# or a restated box after a paragraph of checking, is not.
_JOINING_WORDS = frozenset([*AND.values(), *OR.values(), ",", ";"])
_MAX_GAP_WORDS = 4


def joined_boxes(text: str) -> str | None:
    """The contents of every box of a reference, joined (`1, 2`), when there are several and
    each gap between two holds a joining word ("and", "or" in any language of the lexicon, a
    comma) among at most a few words; None otherwise."""
    boxes = list(_boxes(text))[::-1]
    if len(boxes) < 2:
        return None
    for (_, end, _), (start, _, _) in zip(boxes, boxes[1:], strict=False):
        words = text[end:start].replace(",", " , ").replace(";", " ; ").lower().split()
        words = [w.strip("$") for w in words if w.strip("$")]
        if len(words) > _MAX_GAP_WORDS or not _JOINING_WORDS.intersection(words):
            return None
    return ", ".join(contents for _, _, contents in boxes)


def open_box(text: str) -> str | None:
    """The contents of a last `\\boxed{` that is never closed, to the end of `text` (as
    math-verify reads it: a reference typed without its closing brace), or None."""
    last = last_match(BOX, text)
    if last is None or text[last.end() :].lstrip(" ")[:1] != "{":
        return None
    start = text.index("{", last.end())
    if _braced(text, start) is not None:
        return None
    return text[start + 1 :].rstrip().removesuffix("$").strip() or None


# "Final Answer: The final answer is $10,455$.": a final answer stated after the last box
_FINAL_ANSWER = re.compile(r"(?i)\bfinal\s+answer\s+(?:is|:)\s*\S")


def after_boxed(text: str) -> str:
    """What follows the last complete box of `text` (a unit may: `$\\boxed{72}$ m`)."""
    for _, end, _ in _boxes(text):
        return text[end:]
    return ""


def line_after(text: str, end: int) -> str | None:
    """What follows `text[end]`, up to the end of that line."""
    line = text[end:].split("\n", 1)[0].strip()
    if not line:  # "Answer:\n  42": the answer is on the next non-blank line
        following = [ln.strip() for ln in text[end:].split("\n") if ln.strip()]
        line = following[0] if following else ""
    return line or None


def last_statement(text: str, rules: Sequence[Any]) -> tuple[Any, str, re.Match[str]] | None:
    """`(rule, line, match)` of the last explicit statement of the answer in `text`, each of
    `rules` finding its statements by its `pattern` ("the answer is", "Answer:", "#### 42"):
    a response that changes its mind ("The answer is 0.274. Oops ... Final answer: 0.064") is
    judged on its last one. A rule whose `keywords` the text lacks is not scanned for."""
    lowered = text.lower()
    scanned = [
        (i, rule)
        for i, rule in enumerate(rules)
        if not rule.keywords or any(word in lowered for word in rule.keywords)
    ]
    stated = [(m.end(), i, m) for i, rule in scanned for m in rule.pattern.finditer(text)]
    stated.sort(key=lambda s: (s[0], s[1]), reverse=True)
    for end, i, match in stated[:_MAX_STATEMENTS]:
        found = line_after(text, end)
        found = found and _TAGS.sub(" ", found).strip()
        if found and not _supposed(text, end):
            return rules[i], found, match
    return None


# What wraps a statement's value: an option label opening it ("(b) 42", "(c) \\sqrt{2}": the label
# is no value), a lone number's own parentheses, not a function's argument ("est (3).", "是（-2）").
_WRAPPED = re.compile(
    rf"^\s*{OPTION_LABEL}\s+(?=[-+−$\\\d.])"
    rf"|(?<![\w\\^_])[(（]\s*(?P<wrapped>{NUMBER_PATTERN})\s*[)）]"
)


def without_option_label(value: str) -> str:
    """`value` without an option label opening it (`\\boxed{(b) \\, 33 \\, \\text{m}}`: 33 m),
    unless another parenthesis follows, which may be a second part's label (`(a) 2, (b) 3`)."""
    label = _WRAPPED.match(value)
    if label is None or label.group("wrapped") is not None:
        return value
    rest = value[label.end() :]
    return value if ")" in rest or "）" in rest else rest


def statement_value(found: str) -> str:
    """The value an explicit statement's line states: a box in it, the values of its
    assignments or conditions, its first math span (with a unit after it), or its words read
    by `_stated_value`; values it rejects left out."""
    found = without_rejected(found) or found
    found = _WRAPPED.sub(lambda m: m.group("wrapped") or "", found)  # "(b) 42", "est (3)."
    inner = find_boxed(found)
    if inner is None:  # "**Final Answer:** $x = 2$ or $x = 3$": two values
        inner = assignments(_MATH_SPAN.sub(_group, found)) or _conditions_only(found)
    if inner is None:
        math = _MATH_SPAN.match(found)  # "$x = 5$ because ...", "$8.8 \\times 10^{10}$ m."
        inner = _stated_value(found) if math is None else _group(math)
        if math is not None:
            inner += unit_after(found[math.end() :], inner)
    return clean(inner)


def read_tagged(
    text: str, question: str | None, read: Callable[[str, str | None], Candidate | None]
) -> Candidate | None:
    """The answer an `<answer>` tag holds (a lone `</answer>`: its line), read as a response of
    its own (by `read`, the rule engine) but stated: a paragraph without a statement gives the value its last sentence opens
    with ("... Therefore, Jean can fill 14 bags with 2 lollipops in each bag.": 14)."""
    tag = last_match(_ANSWER_TAG, text)
    if tag is None:
        return None
    content = text[: tag.start()].rsplit("\n", 1)[-1] if tag.group(1) is None else tag.group(1)
    content = _TAGS.sub(" ", content).strip()
    found = read(content, question) if content else None
    if found is None:
        return None
    if found.fallback:
        numbered = [s for s in _SENTENCE.split(content) if re.search(r"\d", s)]
        return Candidate(clean(_stated_value(numbered[-1])), "answer_label", "answer_tag")
    how = found.how if found.how in EXPLICIT else "answer_label"
    return Candidate(found.text, how, "answer_tag", (tag.start(), tag.end()), content)


def read_json_answer(
    text: str, question: str | None, read: Callable[[str, str | None], Candidate | None]
) -> Candidate | None:
    """The value of the last `"answer":` key of a JSON object the response ends with (the
    house style of JSON-mode evals such as ZeroEval: `{"reasoning": "...", "answer": "17"}`),
    decoded as JSON (so `\\(` escapes are undone) and read as a response of its own (by
    `read`, the rule engine), but stated."""
    key = text.rfind('"answer"')
    if key < 0 or "{" not in text[:key]:
        return None
    colon = key + len('"answer"')
    while colon < len(text) and text[colon] in " \t":
        colon += 1
    if colon >= len(text) or text[colon] != ":":
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[colon + 1 :].lstrip())
    except ValueError:
        return None
    if isinstance(value, list) and value and all(_json_scalar(v) for v in value):
        content = "[" + ", ".join(str(v).strip() for v in value) + "]"  # "answer": [1, 2]
    elif _json_scalar(value):
        content = str(value).strip()
    else:
        return None
    found = read(content, question) if content else None
    if found is None:
        return None
    how = found.how if found.how in EXPLICIT else "answer_label"
    return Candidate(found.text, how, "json_answer", (key, len(text)), content)


def _json_scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


# Statements tried from the end: a real answer is followed by a few hypotheticals at most.
_MAX_STATEMENTS = 8


def _supposed(text: str, end: int) -> bool:
    """True when the statement ending at `text[end]` sits in a conditional sentence: "Note: if
    it had asked for boxes, the answer would be 14." states no answer of its own."""
    window = text[max(0, end - _STATEMENT_CHARS) : end + _STATEMENT_CHARS]  # bounded scans
    end = min(end, _STATEMENT_CHARS)
    start = max(window.rfind(p, 0, end) for p in ("\n", ". ", "! ", "? "))
    stops = [i for i in (window.find(p, end) for p in ("\n", ". ", "! ", "? ")) if i >= 0]
    sentence = window[start + 1 : min(stops, default=len(window))]
    found = _HYPOTHETICAL.search(sentence)  # a supposition only with a conditional in it
    return found is not None and (found["opening"] is None or found["would"] is not None)


# How an answer was found, from most to least explicit; only the first three are the model's own
# statement of a final answer (a response cut off by the token limit is credited only by those).
EXPLICIT = ("boxed", "answer_is", "answer_label")


def strip_chat_debris(text: str) -> str:
    """`text` up to the first chat-template marker (after any that open it), or the first line
    that opens a new problem after an answer is stated: a small model that runs on past its
    turn (`<|im_end|>`, `<|im_start|>user ...`, "#### 56\n\nQuestion: ...") writes a new
    question and answers it too."""
    match = _CHAT_DEBRIS.search(text)
    while match and match.group() in CHAT_MARKERS and not text[: match.start()].strip():
        # the turn's own opening header ("<|start_header_id|>assistant<|end_header_id|>"):
        # dropped with its role line, not taken for the end of the turn
        rest = text[match.end() :]
        role, _, after = rest.partition("\n")
        text = after if len(role) < 40 and " " not in role.strip() else rest
        match = _CHAT_DEBRIS.search(text)
    text = text[: match.start()] if match else text
    if "<<" in text:
        text = _CALCULATOR.sub("", text)
    think = text.rfind(_THINK_END)
    if think >= 0:  # the answer follows the reasoning, unless nothing does
        after = text[think + len(_THINK_END) :]
        text = after if _TAGS.sub("", after).strip() else text[:think]
    if _NEW_PROBLEM.search(text) is None:
        return text
    marks = [m.end() for m in (mark.search(text) for mark in _COMMITMENTS) if m is not None]
    problem = _NEW_PROBLEM.search(text, min(marks)) if marks else None
    return text[: problem.start()] if problem else text


def prepare(text: str) -> str:
    """A response as the rules read it: clean text, its own turn only, stripped."""
    return strip_chat_debris(sanitize(text)).strip()


# The readers of the rule table (`rules.RULES`): each reads a prepared response (`text`, or
# `committed` for the rules after the explicit ones) and returns its candidate, or None.


def read_boxed(text: str) -> tuple[str, tuple[int, int]] | None:
    """The last box (boxes joined as one answer), unless "The final answer is ..." follows it."""
    boxed = find_boxed(text)
    if boxed is None or _FINAL_ANSWER.search(after_boxed(text)):
        return None
    return boxed, (0, len(text))


def read_short(text: str, question: str | None) -> tuple[str, str]:
    """`(how, answer)` for a response of one short line: "so x = 1 or x = -2" (two values),
    "$x < -1$ or $x > 3$" (conditions), a sentence's statement, or the line itself."""
    several = assignments(text) or _conditions_only(text)
    if several is None and " " in text and WORD.search(_MATH_SPAN.sub(" ", text)):
        statement = final_statement(text, question)  # "So the area is $12$ cm^2."
        if statement:
            return "statement", clean(statement)
    return "whole", clean(several or text)


def is_short(text: str) -> bool:
    """A response of one short line, which may be the answer itself."""
    text = text.strip()
    return len(text) <= _SHORT_RESPONSE_CHARS and "\n" not in text


def _group(match: re.Match[str]) -> str:
    return next(g for g in match.groups() if g is not None)


_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$((?:\\.|[^\\$])+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
# "x = 1 or x = -2", "a = 7, b = 3": several assignments on the final line are one answer.
_ASSIGNMENT = re.compile(
    r"(?<![\w\\])([A-Za-z](?:_\{?\w+\}?)?)\s*=\s*([^=,;]+?)(?=\s*(?:,|;|\bor\b|\band\b|\.(?:\s|$)|$))"
)


def final_statement(text: str, question: str | None = None) -> str | None:
    """The answer an unanchored solution states last, read from its final line: the statement
    of the quantity the `question` asks for when that line states several ("the area is 24 cm^2
    and the perimeter is 20 cm"); else the last math span (when only words follow it), the
    values of the assignments, or what follows the last `=`, "is", "equals" (in any of the
    languages `_COPULA` knows). Trailing remarks ("where we used 1 J = 1 N m") and sentences
    with no value ("I hope it is correct.") are set aside first."""
    lines = [line for line in text.splitlines() if line.strip()]
    while len(lines) > 1 and _remark(lines[-1]):
        lines.pop()
    if not lines:
        return None
    last = lines[-1][-_STATEMENT_CHARS:]
    if lines[-1][:-_STATEMENT_CHARS].count("$") % 2:  # cut inside a math span: start after it
        last = last[last.find("$") + 1 :]
    last = _PAREN_REMARK.sub("", _valued(last))
    asked = _asked_statement(last, question)
    if asked is not None:
        return asked
    condition = _TRAILING_CONDITION.search(last)
    if condition and re.search(r"[\d$]", last[: condition.start()]):
        last = last[: condition.start()]
    spans = list(_MATH_SPAN.finditer(last))
    if (
        spans
        and not re.search(r"[\d=]", last[spans[-1].end() :])
        and not re.match(r"\s*[\^_]", _group(spans[-1]))  # "kPa$^{-1}$": a unit's power
    ):
        inner = _joined_conditions(last, spans)[1]
        value = assignments(inner) or _last_side(inner)  # "= e^{4.8} \approx 120": 120
        return value + unit_after(last[spans[-1].end() :], value)
    tidy = _MATH_SPAN.sub(_group, last)
    sentences = _SENTENCE.split(tidy)
    closing = sentences[-1]
    return (
        assignments(tidy)
        or _complement(closing)
        or _sole_new_number(closing, question)
        or _explained(sentences, question)
        or _introduced(lines)
    )


def _explained(sentences: list[str], question: str | None) -> str | None:
    """The statement before a closing sentence that states nothing itself but explains it
    ("So, the value of N is 4. That means 4 sandbags need to be thrown out to rise to 150 m.")."""
    if len(sentences) < 2 or not _EXPLAINING.match(sentences[-1]):
        return None
    return _complement(sentences[-2]) or _sole_new_number(sentences[-2], question)


def _introduced(lines: list[str]) -> str | None:
    """A final line of bare math that the line before introduces with a colon ("所以最终的解集是："
    then "(-1, 1) U (2, 3)"; "The number of subsets is:" then "2^n - 1"): its last side."""
    if len(lines) < 2 or not lines[-2].rstrip().endswith((":", "：")):
        return None
    last = lines[-1].strip()
    return _last_side(last).strip() if _has_value(last) and not WORD.search(last) else None


# An inequality's `sign`, or what joins the spans of one condition ("$x < -1$ or $x > 3$", "$x
# \ge 0$, $x \ne 2$"), which holds no sign character.
_CONDITION = re.compile(
    r"(?P<sign>[<>≤≥]|\\(?:le|ge|leq|geq|lt|gt|neq|ne)(?![A-Za-z]))"
    rf"|\s*(?:,\s*)?(?:\b(?:{alternation(AND, OR)})\b|或|且|,)\s*(?:(?:when|for|if)\s+)?"
)


def _is_condition(span: str) -> bool:
    return any(part["sign"] for part in _CONDITION.finditer(span))


def _joins_conditions(gap: str) -> bool:
    join = _CONDITION.fullmatch(gap)
    return join is not None and join["sign"] is None


def _joined_conditions(line: str, spans: list[re.Match[str]]) -> tuple[int, str]:
    """The last math span of `line`, with the inequalities joined to it by "or", "and" or a
    comma when it is one (`x < -1, x > 3`: a union or a system, as the intervals show), and
    the index of the first span joined."""
    inner = _group(spans[-1])
    i = len(spans) - 1
    while (
        i > 0
        and _is_condition(_group(spans[i]))
        and _is_condition(_group(spans[i - 1]))
        and _joins_conditions(line[spans[i - 1].end() : spans[i].start()])
    ):
        i -= 1
        inner = f"{_group(spans[i])}, {inner}"
    return i, inner


def _conditions_only(text: str) -> str | None:
    """`x < -1, x > 3` for a text that is only inequalities in math spans joined by "or",
    "and" or commas ("$x < -1$ or $x > 3$."); None otherwise."""
    spans = list(_MATH_SPAN.finditer(text))
    if len(spans) < 2 or text[: spans[0].start()].strip() or text[spans[-1].end() :].strip(" ."):
        return None
    first, joined = _joined_conditions(text, spans)
    return joined if first == 0 else None


# What links a quantity to its value: "=", "is", "equals", "ist", "est", "равна", "等于".
_COPULA = re.compile(
    r"=|≈|\\(?:approx|cong|in)(?![A-Za-z])"
    r"|\b(?:(?P<verb>(?:is|are|was|were)(?:\s+equal\s+to)?|equals?(?:\s+to)?)|becomes?"
    r"|gives|yields|leaving|ist|sind|beträgt|est|vaut|sont|es|son|равн[аоыяе]?|составляет)\b"
    r"|等于|(?<![但于还可])是|(?<![因作认以成称行])为(?![了何什])"
)


def _remark(text: str, sign_off: bool = False) -> bool:
    """Whether `text` opens as a remark on the result (or, with `sign_off`, as a sign-off)."""
    match = _REMARK.match(text)
    return match is not None and (match["sign_off"] is not None) == sign_off


def _has_value(sentence: str) -> bool:
    """A digit, a `$` or a LaTeX command in `sentence`: something a value could be."""
    if "$" in sentence or any(c.isdecimal() for c in sentence):
        return True
    return any(part[:1].isascii() and part[:1].isalpha() for part in sentence.split("\\")[1:])


# ", which is of atomic dimensions": a comment on the value, holding none of its own.
_RELATIVE_REMARK = re.compile(r",\s*(?:which|who)\b[^\d\\$=]*$")
# How the words after a copula open: words before the value (`hedge`: "is about 2.236"), then
# maybe a statement that no value is the answer (`no_value`: "... the expression is undefined.").
_COMPLEMENT_HEAD = re.compile(
    r"(?i)(?P<hedge>(?:(?:about|approximately|approx\.|roughly|around|nearly|almost|exactly|just"
    r"|only|given\s+by|then|now|thus|therefore|de|of|in|at(?!\s+(?:least|most)))\s+)+)?"
    r"(?P<no_value>(?:not\s+)?(?:undefined|defined|indeterminate|undetermined|impossible"
    r"|nonexistent|unbounded|infinite|divergent|empty|none)\b)?"
)


# "(where we used ln 4 = 1.386)": a closing aside, not the statement.
_PAREN_REMARK = re.compile(  # (and "0.1855 (or 18.55%)": the value restated as a percent)
    r"(?i)\s*\(\s*(?:where|here|using|with|since|as|note|assuming|because|from|see|i\.e\.|e\.g\."
    r"|or(?=[^()]*%))\b[^()]*\)(?=\s*[.!]?\s*$)"
)
# The words that may follow a math span as its unit: "$h = 0.54$ cm."
_UNIT_WORDS = re.compile(r"\s*([^\s\d,.;:$]{1,12}(?:\s*[/^·*]\s*[^\s,.;:$]{1,8})?)\s*(?:[.,;!]|$)")


def unit_after(rest: str, value: str = "1") -> str:
    """` cm` when `rest`, what follows a math span, opens with a unit pint knows and the span's
    `value` is a number (a unit after `2\\frac{3}{4}` is not math-verify's to read); else ``."""
    match = _UNIT_WORDS.match(rest) if _ONE_NUMBER.fullmatch(value) else None
    if match is None or parse_unit(normalize_unit(match.group(1))) is None:
        return ""
    return f" {match.group(1)}"


def declines(text: str) -> bool:
    """Whether the end of `text` says the asked value cannot be determined (`CANNOT_DETERMINE`):
    an unanchored solution that closes so commits to none of the numbers it computed."""
    tail = text[-_STATEMENT_CHARS:].lower()
    return any(phrase in tail for phrases in CANNOT_DETERMINE.values() for phrase in phrases)


def states_no_value(statement: str) -> bool:
    """True for a statement that no value is the answer: "undefined", "does not exist"."""
    head = _COMPLEMENT_HEAD.match(statement.strip())
    return head["hedge"] is None and head["no_value"] is not None  # type: ignore[index]


def _valued(line: str) -> str:
    """`line` without its closing sentences that state no value (sign-offs, comments)."""
    sentences = _SENTENCE.split(line)
    while len(sentences) > 1 and (
        _remark(sentences[-1], sign_off=True) or not _has_value(sentences[-1])
    ):
        sentences.pop()
    return " ".join(sentences)


# The math just before an `=`: "hence k", "2x - y + 1", "f(x)".
_LEFT_SIDE = re.compile(r"[^\s,;:]+(?:\s*[-+*/]\s*[^\s,;:]+)*\s*$")
# A name: x, c_1, T_f, P(A), f(2), \theta, E^\circ.
_NAME = re.compile(r"\\?[A-Za-z]+'?(?:_\{?[\w\\]+\}?)?(?:\^\{?[\w\\]+\}?)?(?:\([^()]*\))?")


def _last_side(text: str) -> str:
    """What `text` states last: the side after its last copula (a chain's result: "= (1/2)(3)(4)
    = 6"; "hence k = 1/sqrt 3"), or the whole equation when that copula's left side is not a
    name ("2x - y + 1 = 0") or defines a line or function ("is y = 4x - 4")."""
    last = last_match(_COPULA, text)
    if last is None:
        return text
    if last.group(0) == "=":
        left = _LEFT_SIDE.search(text[: last.start()])
        lhs = left.group(0).strip() if left else ""
        if (
            re.search(r"[A-Za-z]", lhs)
            and (not _NAME.fullmatch(lhs) or DEFINED.fullmatch(lhs))
            and re.search(r"[A-Za-z]|^\s*0\s*$", text[last.end() :])
        ):
            return text[left.start() :]  # type: ignore[union-attr]
    return text[last.end() :]


def _complement(sentence: str) -> str | None:
    """What a statement says its subject is: the text after its last copula, up to the end of
    that clause (`undefined` for "At x = 0 ..., so the expression is undefined": a statement
    whose value is no number); None when the sentence states nothing."""
    sentence = _RELATIVE_REMARK.sub("", sentence)
    if _COPULA.search(sentence) is None:
        return None
    value = _last_side(sentence)
    end = next((m for m in _CLAUSE.finditer(value) if not m["semicolon"]), None)
    value = (value[: end.start()] if end else value).strip()
    head = _COMPLEMENT_HEAD.match(value)
    value = value[len(head["hedge"] or "") :]  # type: ignore[index]
    if re.search(r"\d|\\", value) or head["no_value"]:  # type: ignore[index]
        return value  # "the expression is undefined": a statement that no value is the answer
    return None


# Clauses of a final statement: sentences, "; ", ", and ", " and the ...".
_CLAUSES = re.compile(
    rf"{SENTENCE_BREAK}|;\s+|,\s+(?:and|but|while|so|thus|hence)\s+"
    r"|\s+and\s+(?=(?:the|its|his|her|their|our)\b)"
)
# Words of a question that name no quantity.
_QUESTION_STOP = frozenset(
    re.findall(
        r"\w+",
        "what which how many much find compute determine calculate evaluate give show the its "
        "their his her this that these those and for with from into does did will would can "
        "could your answer value express exact form round nearest there are is was were has "
        "have been being she they does",
    )
)


def _content_words(text: str) -> set[str]:
    words = {w.lower() for w in WORD.findall(text)}
    return {w[:-1] if w.endswith("s") else w for w in words - _QUESTION_STOP}


def _asked_statement(line: str, question: str | None) -> str | None:
    """The value of the statement in `line` whose subject best matches what `question` asks
    for, when that is not the last statement ("Area = ... = 6. The hypotenuse is 5.";
    "She needs 4 more boxes. In total she will have 9." asked how many more she needs)."""
    if not question:
        return None
    asks = [s for s in _SENTENCE.split(question.strip()) if s.strip()]
    asked = _content_words(asks[-1]) if asks else set()
    head = _head_word(asks[-1]) if asks else None  # "the slope of the tangent": slope
    clauses = _CLAUSES.split(_MATH_SPAN.sub(_group, line))
    subjects = [_content_words(_subject(clause)) for clause in clauses]
    # the clause about the asked head noun first, then the one naming most of the question
    scores = [(head in words, len(words & asked)) for words in subjects]
    best = max(range(len(clauses)), key=lambda i: (scores[i], i), default=None)
    if best is None or not any(scores[best]) or best == len(clauses) - 1:
        return None  # none named, or the last statement is the asked one anyway
    clause = clauses[best]
    if _COPULA.search(clause) is None:  # "she needs 4 more boxes": its one number
        numbers = list(NUMBER.finditer(clause))
        value = clause[numbers[0].start() :].strip() if len(numbers) == 1 else None
    else:
        value = _complement(clause)
    if not value or not re.search(r"\d", value):
        return None
    # an earlier clause that restates a given ("Amir eats 4944179 cookies") or a step whose
    # value a later clause computes with ("30 miles", then "30 + 20 = 50 miles") is not the
    # answer, however well its words match the question
    number = NUMBER.search(value)
    stated = _plain(number) if number else None
    if stated is not None and (
        stated in _numbers(question)
        or any(
            stated in _operands(clauses[later]) and (any(scores[later]) or not subjects[later])
            for later in range(best + 1, len(clauses))
        )  # a later step about the asked quantity too, or bare arithmetic ("40 + 32 = 72"), not
        # one about another ("Number of molecules: 2 x 6.02 x 10^23 = ...")
    ):
        return None
    return value


def _plain(number: re.Match[str]) -> str:
    """A number's digits without sign or grouping commas, and its power of ten."""
    exponent = number["e1"] or number["e2"]
    return number["mant"].replace(",", "") + (f"e{exponent}" if exponent else "")


def _numbers(text: str) -> set[str]:
    """The numbers written in `text`, without grouping commas."""
    return {_plain(m) for m in NUMBER.finditer(text)}


def _operands(clause: str) -> set[str]:
    """The numbers a clause computes with: those before its last `=` ("30 + 20 = 50": 30, 20)."""
    return _numbers(clause[: clause.rfind("=")]) if "=" in clause else set()


def _opens_with(lexicon: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    """A pattern for a sentence that opens with one of a lexicon entry's phrases, any case: a
    Latin phrase as whole words ("so", not "some"); a Chinese one runs on into the sentence."""
    phrases = (re.escape(w) + (r"\b" if w.isascii() else "") for ws in lexicon.values() for w in ws)
    return re.compile(rf"\s*(?i:{'|'.join(phrases)})")


_CONCLUDING = _opens_with(CONCLUDING)
_EXPLAINING = _opens_with(EXPLAINING)


def _sole_new_number(sentence: str, question: str | None) -> str | None:
    """The value a concluding sentence (`CONCLUDING`) with no copula states, when all its
    numbers but one are the question's givens ("Therefore, Cynthia will spend $18286416 on ice
    cream in 60 days.", asked how much she spends after 60 days): that one, with the unit
    written after it."""
    if not question or _COPULA.search(sentence) or not _CONCLUDING.match(sentence):
        return None
    givens, numbers = _numbers(question), list(NUMBER.finditer(sentence))
    new = [m for m in numbers if _plain(m) not in givens]
    if len(new) != 1 or len(new) == len(numbers):
        return None  # none, several, or no given among them (the last number reads it anyway)
    number = new[0]
    sign = number["sign"] if number.end("sign") == number.start("mant") else ""  # not "30 - 20"
    value = sign.replace("+", "") + sentence[number.start("mant") : number.end()]
    return value + unit_after(sentence[number.end() :], value)  # "12 kg on ...": 12 kg


def _subject(clause: str) -> str:
    """What a statement is about: the words before its first copula, or all of it; a verb
    ("is", "equals") before a sign ("at x = 2 the slope is 12": the slope, not x)."""
    copulas = list(_COPULA.finditer(clause))
    copula = next((c for c in copulas if c.group("verb")), copulas[0] if copulas else None)
    return clause[: copula.start()] if copula else clause


def _head_word(question: str) -> str | None:
    """The first word of a question that names a quantity: what it asks for."""
    words = [w.lower() for w in WORD.findall(question)]
    named = [w[:-1] if w.endswith("s") else w for w in words if w not in _QUESTION_STOP]
    return named[0] if named else None


def assignments(line: str) -> str | None:
    """`1, -2` for `x = 1 or x = -2`: the values of two or more assignments to one variable,
    joined only by commas, "or", "and"; `a = 7, b = 3` for a system's solution (each variable
    once, names kept); None otherwise."""
    found = list(_ASSIGNMENT.finditer(line))
    names = [m.group(1) for m in found]
    if len(found) < 2 or len(set(names)) not in (1, len(names)):
        return None
    gaps = [line[a.end() : b.start()] for a, b in zip(found, found[1:], strict=False)]
    if not all(gap.strip() in ("", ",", ";", "or", "and") for gap in gaps):
        return None
    if len(set(names)) > 1:
        return ", ".join(f"{m.group(1)} = {m.group(2).strip()}" for m in found)
    return ", ".join(m.group(2).strip() for m in found)


# A clause after the value that qualifies it: "is $-1$, attained at $x = 2$".
_TRAILING_CONDITION = re.compile(  # (and "= 422 ordered pairs (A, B) such that $1 \le |B|$")
    r",\s*(?:(?:which\s+is\s+)?(?:attained|achieved|reached|obtained)|occurring|when|whenever"
    r"|at|where)\b[^,]*$|\s+such\s+that\b.*$"
)
# Where a clause after a value starts: a comma before a word ("14, since 14 is ...", `joined`:
# "1, 2, and 3"; `abbr`: ", i.e."), a `semicolon` (not `(-\infty; -1)`: an interval's ";") or a
# sentence break. A statement's value ends at any but a semicolon (`_complement`); an answer's
# opening value at any but a joined or abbreviated comma (`_before_clause`).
_CLAUSE = re.compile(
    rf",\s+(?=(?P<joined>(?=(?:{alternation(AND, OR)})\b))?(?:[^\W\d_]{{2,}}|(?P<abbr>i\.e\.|e\.g\.)))"
    r"|(?P<semicolon>;\s(?![^()\[\]]*[)\]]))|\.(?:\s|$)(?!\d)"
)


# "After 3 days, she has 12 apples": an opening phrase before the statement itself.
_OPENING_PHRASE = re.compile(r"^[^,\d]{0,40}\d[^,]{0,30},\s+(?=.*\d)")


def _stated_value(answer: str) -> str:
    """The value an explicit answer states: itself when it opens with one (`14, since ...`), the
    complement of its copula ("Answer: the speed is 5 m/s"), else the words from its first
    number on: the value right after the label wins over later numbers in the same sentence
    ("Réponse: Janeth aura encore 220 $ à payer d'ici 12 mois.")."""
    head = _before_clause(answer)
    if head is not answer or not WORD.match(answer):
        return head
    stated = _complement(answer)
    if stated is not None and re.search(r"\d", stated):
        return stated
    rest = _OPENING_PHRASE.sub("", answer)
    first = NUMBER.search(rest)
    if first is None:
        return answer
    after = rest[first.end() :]
    later = re.search(r"\s\S*\d", after)  # "220 $ ... d'ici 12 mois": not 12
    if later is None or _HEDGE.search(after[: later.start()]):  # an "or" between them
        return rest[first.start() :]  # "either 4 or 5": both, for the hedge to be seen
    return rest[first.start() : first.end() + later.start()]


# "8, oder vielleicht 9", "either 4 or 5": a number, an "or", another number; or an "or" of its
# own (`alternative`): a text has a match exactly when it has an "or".
_HEDGE = re.compile(
    rf"(?<![\w.])([-+−]?\d+(?:[.,]\d+)?)\s*,?\s*(?:\b(?:{alternation(OR)})\b|或者?)\s*"
    r"(?:(?:maybe|perhaps|possibly|vielleicht|peut-être|quizás|tal\s+vez|может\s+быть)\s+)?"
    r"\$?([-+−]?\d+(?:[.,]\d+)?)(?![\d.,]\d)"
    rf"|(?P<alternative>(?i:\b(?:{alternation(OR)})\b)|或)"
)


def offers_alternatives(answer: str) -> bool:
    """True when an answer offers two different numbers as alternatives ("8, oder vielleicht
    9", "either 4 or 5"): hedging, which is not an answer."""
    return any(m.group(1) != m.group(2) for m in _HEDGE.finditer(answer) if not m["alternative"])


def _before_clause(answer: str) -> str:
    """`14` for `14, since 14 is the only value ...`: a value that opens a sentence, without
    the reasons that follow it (the answer itself when it opens with words)."""
    clauses = _CLAUSE.finditer(answer)
    cut = next((m for m in clauses if m["joined"] is None and not m["abbr"]), None)
    head = answer[: cut.start()].strip() if cut else answer
    return head if head and re.match(r"[-+−(\[\\\d.]", head) else answer


# A sentence that supposes rather than states: "This would be 8 if we had multiplied".
_SENTENCE = re.compile(rf"{SENTENCE_BREAK}(?=[A-Z])")
# (`would` is set when an `opening` supposition goes on to a conditional: "If ..., it could be")
_HYPOTHETICAL = re.compile(
    r"(?i)(?P<opening>^(?:if|suppose|assuming|had)\b)(?P<would>(?=.*\b(?:would|could|might)\b))?"
    r"|\bwould\b.*\b(?:if|instead|otherwise|but)\b|\b(?:if|instead|otherwise)\b.*\bwould\b"
)


# A value the final sentence rules out: "Also ist die gesuchte Zahl 27, nicht 81."
# English "not" is written out with its "and"/"but"; the others stand without a word boundary,
# as "27，不是81" has none.
_OTHER_NOT = alternation(NOT, languages=("de", "fr", "ru", "zh"))
_NEGATED = re.compile(
    rf"(?i)[,;]?\s*(?:\b(?:and\s+|but\s+)?not|{_OTHER_NOT}|pas|而不是)\s+\$?[-+−]?\d[\d.,/]*\$?"
    r"(?=\s*[.!。]?\s*$)"
)


# A value the solution rejects, in parentheses or a clause of its own: "(x = -5 is rejected
# since ...)", "; x = -5 is not valid", "，x=-5 舍去", "x = -5 wird verworfen".
_REJECTS = (
    r"(?:\b(?:reject|discard|exclud|dismiss|verwerf|verworf|отбрасыва|отброс|rejet|écart|descart)"
    r"\w*|\b(?:not|nicht|pas|no)\s+(?:valid|admissible|allowed|acceptable|physical|gültig|zulässig"
    r"|valable|válid[ao])\b|\b(?:invalid|extraneous|inadmissible|unphysical|ungültig|entfällt)\b"
    r"|не\s+подходит|舍去|舍弃|不合题意|不符合题意)"
)
_CLAUSE_PART = r"(?:(?!\b(?:and|but|so|thus|hence|while|whereas)\b)[^,;，；。()（）\n])"
_REJECTED = re.compile(
    rf"(?i)\s*[(（][^()（）\n]*?{_REJECTS}[^()（）\n]*[)）]"
    rf"|(?:[,;，；]\s*|(?:[,;，；]\s*)?\b(?:and|but|while|whereas)\s+|{SENTENCE_BREAK}|^)"
    rf"{_CLAUSE_PART}*?{_REJECTS}{_CLAUSE_PART}*?(?:[,;，；。]|\.(?!\d)|(?=\)|\n)|$)"
)


def without_rejected(text: str) -> str:
    """`text` without the values its end rejects: "x = 5 (x = -5 is rejected since ...)" is 5.
    Only the last characters are read: a clause scan over a long line would cost its square."""
    cut = max(0, len(text) - _STATEMENT_CHARS)
    return text[:cut] + _REJECTED.sub("", text[cut:])


def committed(text: str, question: str | None = None) -> str:
    """`text` without what its end does not commit to: hypothetical sentences, rejected values
    ("x = -5 is discarded"), a value ruled out after the answer ("27, not 81")."""
    return _NEGATED.sub("", without_rejected(without_hypotheticals(text, question)))


def without_hypotheticals(text: str, question: str | None = None) -> str:
    """`text` without the hypothetical sentences of its last line: a stated answer never sits in
    one ("If the series converged, its sum would be 1/2. But it diverges."). A supposition the
    `question` itself makes is the problem's, not the response's ("If they ate 8 pieces the
    first night, ..." answering "If they ate 8 pieces the first night, how many are left?")."""
    head, _, last = text.rpartition("\n")
    sentences = _SENTENCE.split(last)
    asked = _tokens(question) if question else frozenset()
    kept = [s for s in sentences if not _HYPOTHETICAL.search(s) or _restates(s, asked)]
    if len(kept) == len(sentences) or not kept:
        return text if kept else head.rstrip() or text
    return f"{head}\n{' '.join(kept)}" if head else " ".join(kept)


def _tokens(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", text.lower()))


def _restates(sentence: str, asked: frozenset[str]) -> bool:
    """True when the condition a sentence opens with ("If 3 customers left and he got another
    39", to its first comma) is mostly the question's own words, numbers included."""
    condition = _tokens(sentence.split(",", 1)[0]) if "," in sentence else frozenset()
    shared = condition & asked
    return len(shared) >= 3 and len(shared) >= 0.6 * len(condition)


_UNITS = word_list(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# The denominators of a fraction in words: "one half", "two thirds", "three quarters".
_PARTS = {"half": 2, "halve": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6}
_PARTS |= {"seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_NUMBER_WORDS = "|".join((*_TENS, *_UNITS))
# "there are twelve ways to arrange them": the count, then words that name what is counted
# (no number, scale or operation among them: not "there are two hundred ways")
_COUNTED = (
    rf"(?:\s+(?!(?:{_NUMBER_WORDS}|or|and|times|plus|minus|point|hundreds?|thousands?"
    r"|millions?)\b)[^\W\d_]+){0,6}"
)
_NUMBER_WORD = re.compile(
    rf"(?i)\b(?:(there\s+(?:are|is|were|was|will\s+be))|is|are|equals|was|be|gives|get)\s+"
    rf"(?:exactly\s+)?((?:negative|minus)\s+)?"
    rf"((?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_UNITS[1:10])}))?|{'|'.join(_UNITS)}|an?)"
    rf"(?:[- ]({'|'.join(_PARTS)})s?)?(?(1){_COUNTED})\s*[.!]?\s*$"
)


def number_word(text: str) -> str | None:
    """`3` for a final sentence that ends "... is three.", `-3` for "... equals negative three.",
    `3/4` for "... is three quarters." (0 to 99 in English words, over 2 to 10)."""
    tail = text[-200:]
    end = tail.rstrip()
    end = end[:-1].rstrip() if end[-1:] in (".", "!") else end
    if not end or end[-1].isdecimal() or end[-1] in "$})]":
        return None  # the sentence ends in math, not in a word: no scan needed
    match = _NUMBER_WORD.search(tail)
    if match is None:
        return None
    _, negative, said, part = match.groups()
    if part is None and said.lower() in ("a", "an"):
        return None  # "... is a.", "there is a way": no number
    words = re.split(r"[- ]", said.lower())
    if words[0] in ("a", "an"):
        value = 1
    elif words[0] in _TENS:
        value = _TENS.index(words[0]) * 10 + 20
    else:
        value = _UNITS.index(words[0])
    if len(words) > 1:
        value += _UNITS.index(words[1])
    number = str(-value if negative else value)
    return f"{number}/{_PARTS[part.lower()]}" if part else number


# The final line of a statement is read from its last characters only (a linear, bounded scan).
_STATEMENT_CHARS = 400


def last_number(text: str) -> str | None:
    """The last number written in `text` (with its exponent, if any)."""
    last = last_match(NUMBER, text)
    return re.sub(r"\s+", "", last.group(0)).replace("−", "-") if last else None


def _radical(match: re.Match[str]) -> str:
    return f"\\sqrt{{{match.group('grouped') or match.group('radicand')}}}"


_MATH_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_REWRITES: tuple[Rewrite, ...] = (
    (re.compile(r"\*\*(.+?)\*\*|__(.+?)__"), lambda m: m.group(1) or m.group(2)),  # **17**
    substitutions(
        (r"(?<=\d),\\!\s*(?=\d{3})", ","),  # 48,\! 216: a thousands separator
        (r"\\[dt]frac\b", "\\frac"),
        (r"\\\$", ""),  # an escaped dollar sign: "\$12.50" is 12.50
        (r"\\langle\b", "("),  # a vector <1, 2, 3> is the tuple (1, 2, 3)
        (r"\\rangle\b", ")"),
        # the radical sign: 3√3, √(x+1), √x are `3\sqrt{3}`, `\sqrt{x+1}`, `\sqrt{x}`
        (r"√\s*(?:\((?P<grouped>[^()]*)\)|(?P<radicand>\d+(?:\.\d+)?|[A-Za-z]))", _radical),
        # a capital U between two intervals is their union: `(-1, 1) U (2, 3)`
        (r"(?<=[)\]])\s*U\s*(?=[(\[])", " \\cup "),
    ),
    # Symbols in their LaTeX spelling, and the Unicode minus; after the rules above, whose `\b`
    # reads `π` as a word character (`\dfracπ` stays as written).
    str.maketrans({"π": "\\pi ", "∞": "\\infty ", "∪": "\\cup ", "∈": "\\in ", "−": "-"}),
    # `(-\infty; -1)`, `[2; 5]`: the ends of an interval (or a point's coordinates) written
    # with a semicolon, as where the comma is the decimal mark
    (re.compile(r"([(\[])([^;,()\[\]]+);([^;,()\[\]]+)(?=[)\]])"), r"\1\2,\3"),
    substitutions(  # LaTeX sizing and spacing: no part of the value
        (r"\\left\s*(?=[(\[|.])|\\right\s*(?=[)\]|.])", ""),
        (r"\\left\s*\\\{", "\\{"),
        (r"\\right\s*\\\}", "\\}"),
        (r"\\(?:displaystyle|textstyle|!|quad|qquad)\b|\\!", ""),
        (r"\\(?:text|textnormal|textrm|mbox)\s*\{\s*(?:and|or)\s*\}", ", "),
    ),
)


# Currency signs written before an amount ("£97,506.30"); `$` is a math delimiter as well
_CURRENCY = "£€¥₹"


def clean(answer: str) -> str:
    """Tidy an extracted answer: math delimiters, `\\dfrac`, `\\left(`, spacing, a final period.

    `\\text{...}` and `\\mathrm{...}` are kept: units and text answers need them, and each answer
    type strips them its own way.
    """
    s = " ".join(rewrite(answer.strip(), _REWRITES).split())  # and single spaces
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
        if s and s[0] in _CURRENCY and s[1:2].isdigit():  # "£97,506.30", "€12"
            s, changed = s[1:], True
        if s.endswith("$") and s.count("$") == 1:  # "0.3333$": a stray closing delimiter
            s, changed = s[:-1].strip(), True
        if s.endswith("\\") and not s.endswith("\\\\"):  # "7\\": a stray backslash
            s, changed = s[:-1].rstrip(), True
        if s.endswith((")", ").")) and (bare := _PAREN_REMARK.sub("", s)) != s:
            s, changed = bare, True  # "0.1855 (or 18.55%)": a remark, not the answer
        for mark in ("**", "__"):  # "400**": the end of a bold line opened before the label
            if s.endswith(mark) and s.count(mark) % 2:
                s, changed = s[: -len(mark)].rstrip(), True
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
