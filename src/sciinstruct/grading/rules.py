"""The extraction rules as a table: where a response states its final answer, in priority order.

Each `Rule` has a name, a priority, the languages its words cover, the pattern it finds its
marker by (built from `lexicon`), the kind of answer it reads (`extract.KINDS`: how explicit it
is) and examples that run as tests (`tests/test_grading_rules.py`). The engine reads a response
tier by tier, most explicit first, and yields one ranked `Candidate` per tier that finds one;
rules that share a priority compete by position (the latest statement wins: a response that
changes its mind is judged on its last word). `extract` is the first candidate.

A new house style is a lexicon entry (a label, a language's "the answer is") or a row here,
with its example.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from sciinstruct.grading import extract as ex
from sciinstruct.grading.extract import Candidate
from sciinstruct.grading.lexicon import ANSWER, ANSWER_IS_PHRASES, BRACKETS

__all__ = [
    "RULES",
    "Candidate",
    "Example",
    "Rule",
    "candidates",
    "extract",
    "extract_answer",
    "stated_line",
]


@dataclass(frozen=True)
class Example:
    """A response and the answer its rule reads from it (`text`), with the question when the
    rule needs one to pick the asked quantity."""

    response: str
    text: str
    question: str | None = None


@dataclass
class Response:
    """A response prepared once for every rule: its own turn, and the part it commits to."""

    text: str
    question: str | None = None

    @cached_property
    def committed(self) -> str:
        """Without hypotheticals, rejected values and values ruled out after the answer."""
        return ex.committed(self.text, self.question)


Reader = Callable[[Response, tuple["Rule", ...]], Candidate | None]


@dataclass(frozen=True)
class Rule:
    name: str
    priority: int
    kind: str  # one of extract.KINDS
    read: Reader = field(repr=False)
    languages: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = field(default=None, repr=False)
    examples: tuple[Example, ...] = ()
    why: str = ""
    # Words (lower case) its pattern cannot match without: a text with none is not scanned, a
    # substring test being far cheaper than a multilingual pattern tried at every position.
    keywords: tuple[str, ...] = ()


def _boxed(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    found = ex.read_boxed(response.text)
    if found is None:
        return None
    boxed, span = found
    return Candidate(ex.clean(ex.without_option_label(boxed)), "boxed", rules[0].name, span, boxed)


def _tagged(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    return ex.read_tagged(response.text, response.question, extract)


def _json_answer(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    return ex.read_json_answer(response.text, response.question, extract)


def _stated(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    stated = ex.last_statement(response.text, rules)
    if stated is None:
        return None
    rule, line, match = stated
    return Candidate(ex.statement_value(line), rule.kind, rule.name, match.span(), line)


def _number_word(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    said = ex.number_word(response.committed)
    return None if said is None else Candidate(said, "statement", rules[0].name)


def _short(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    text = response.committed
    if not ex.is_short(text):
        return None
    how, answer = ex.read_short(text, response.question)
    return Candidate(answer, how, rules[0].name, (0, len(text)), text)


def _final_statement(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    statement = ex.final_statement(response.committed, response.question)
    return Candidate(ex.clean(statement), "statement", rules[0].name) if statement else None


def _last_number(response: Response, rules: tuple[Rule, ...]) -> Candidate | None:
    number = ex.last_number(response.committed)
    return None if number is None else Candidate(number, "last_number", rules[0].name)


_LANGUAGES = tuple(ANSWER_IS_PHRASES)
# Every language's "the answer is" holds its word for "answer" (Chinese may name the option
# instead, "正确选项是"; Japanese the right one, "正解は").
_ANSWER_WORDS = (*ANSWER.values(), "选项", "正解")

RULES: tuple[Rule, ...] = (
    Rule(
        "boxed",
        0,
        "boxed",
        _boxed,
        pattern=ex.BOX,
        why="the model's own box: the last one, boxes joined by 'and' or commas as one answer",
        examples=(
            Example("First 12, then \\boxed{14}.", "14"),
            Example("$x=\\boxed{2}$ or $x=\\boxed{3}$", "2, 3"),
            Example("so \\boxed 5 apples", "5"),
            Example("so the choice is \\boxed{(c) 12 \\text{ m}}", "12 \\text{ m}"),
        ),
    ),
    Rule(
        "answer_tag",
        1,
        "answer_label",
        _tagged,
        why="a reasoning model's <answer> tag, its content read as a response of its own",
        examples=(
            Example("<think>2+2</think><answer>The total is 4.</answer>", "4"),
            Example("Reasoning done.\n<answer>$\\frac{1}{2}$</answer>\nThanks!", "\\frac{1}{2}"),
        ),
    ),
    Rule(
        "json_answer",
        2,
        "answer_label",
        _json_answer,
        why="the 'answer' field of a JSON object, as JSON-mode evals ask for it",
        examples=(
            Example('```json\n{"reasoning": "6 + 11 = 17", "answer": "17"}\n```', "17"),
            Example('{"reasoning": "...", "answer": "\\\\frac{1}{2}"}', "\\frac{1}{2}"),
            Example('Answer:\n{"reasoning": "So it is B.", "answer": "B"}', "B"),
            Example('{"answer": [1, 2], "reasoning": "A = 1 and B = 2."}', "[1, 2]"),
        ),
    ),
    Rule(
        "answer_is",
        3,
        "answer_is",
        _stated,
        languages=_LANGUAGES,
        pattern=ex.ANSWER_IS,
        keywords=_ANSWER_WORDS,
        why="'the answer is' in any language of the lexicon; the last statement wins",
        examples=(
            Example("The answer is 6. Wait, no. So the answer is 12.", "12"),
            Example("Therefore, the answer (arabic numerals) is: 12,500", "12,500"),
            Example("The answer is (b) 42", "42"),
            Example("The answer is (b) \\frac{3}{4}", "\\frac{3}{4}"),
            Example("La réponse finale est donc (12).", "12"),
            Example("所以答案是（3）。", "3"),
            Example("So the answer is 7\\", "7"),
            Example("**The answer is: \\$125**", "125"),
            Example(
                "<|start_header_id|>assistant<|end_header_id|>\n\nSo the answer is 219.", "219"
            ),
            Example("Therefore, the answer is **0.1855** (or 18.55%).", "0.1855"),
            Example("Therefore, the answer is £97,506.30.", "97,506.30"),
            Example("所以答案是 42。", "42"),
            Example("Donc la réponse est 7.", "7"),
            Example("Die Antwort ist 3,5.", "3,5"),
            Example("Правильный ответ — 5.", "5"),
        ),
    ),
    Rule(
        "answer_label",
        3,
        "answer_label",
        _stated,
        languages=tuple(ANSWER),
        pattern=ex.ANSWER_LABEL,
        keywords=(*ANSWER.values(), "conclusion", "结论"),
        why="'Answer:', 'Final Answer:', '答案：', '结论：' opening a line or a sentence",
        examples=(
            Example("We add them.\nFinal Answer: 15", "15"),
            Example("**Answer:** $x = 5$ because it fits.", "x = 5"),
            Example("答案：C", "C"),
        ),
    ),
    Rule(
        "gsm8k_marker",
        3,
        "answer_label",
        _stated,
        pattern=ex.GSM8K_MARKER,
        keywords=("####",),
        why="GSM8K's '#### 42' closing line",
        examples=(
            Example("She has 3 + 4 = 7 apples.\n#### 7", "7"),
            Example("She makes $18 a day from 9 eggs at $2 each. #### 18", "18"),
        ),
    ),
    Rule(
        "bracketed_label",
        3,
        "answer_label",
        _stated,
        languages=("zh", "en"),
        pattern=ex.BRACKETED_LABEL,
        keywords=(BRACKETS[0],),
        why="a bracketed label as Chinese exam keys write it, '【答案】', before '<eoa>'",
        examples=(
            Example("【解析】由题意得 x=3，所以 y=6。\n【答案】6 <eoa>", "6"),
            Example("【答案】C<eoe>", "C"),
        ),
    ),
    Rule(
        "answer_heading",
        3,
        "answer_label",
        _stated,
        languages=tuple(ANSWER),
        pattern=ex.ANSWER_HEADING,
        keywords=tuple(ANSWER.values()),
        why="a '# Answer' heading, the answer on the lines under it",
        examples=(Example("Work: 2*3.\n\n# Answer\n\n6", "6"),),
    ),
    Rule(
        "number_word",
        4,
        "statement",
        _number_word,
        languages=("en",),
        why="a final sentence that ends in a number in words: '... is three.'",
        examples=(
            Example("The positive root of $x^2 = 9$ is three.", "3"),
            Example("So there are twelve ways to arrange them.", "12"),
        ),
    ),
    Rule(
        "short_response",
        5,
        "whole",
        _short,
        why="a response of one short line is the answer itself, or states it",
        examples=(
            Example("x = 1 or x = -2", "1, -2"),
            Example("$\\frac{3}{4}$", "\\frac{3}{4}"),
            Example("So the area is $12$ cm^2.", "12 cm^2"),
        ),
    ),
    Rule(
        "final_statement",
        6,
        "statement",
        _final_statement,
        why="the last statement of the asked quantity on the final line: after its copula",
        examples=(
            Example("We compute the sum.\nSo the area is 24.", "24"),
            Example(
                "Area = 6.\nThe hypotenuse is 5 and the area is 6.",
                "5",
                "What is the hypotenuse of the triangle?",
            ),
            Example(
                "Step by step.\nIn the first 3 hours she runs 10 x 3 = 30 miles. "
                "Then she runs 5 x 4 = 20 "
                "miles. In total she can run 30 + 20 = 50 miles in 7 hours.",
                "50 miles in 7 hours",
                "She runs 10 miles per hour for 3 hours, then 5. How many miles can she run?",
            ),
            Example(
                "Each carton costs $45.\n\nTherefore, Cynthia will spend $180 on ice cream "
                "in 60 days.",
                "180",
                "A carton costs $45. After 60 days, how much will she spend on ice cream?",
            ),
            Example(
                "Step by step.\nThe number of moles is 36 / 18 = 2 mol. "
                "Number of molecules: 2 × 6.02 × 10^23 = "
                "1.20 × 10^24.",
                "2 mol",
                "How many moles are in 36 g of water?",
            ),
            Example(
                "Step by step.\nSo, the value of $N$ is 4. That means 4 sandbags need to be "
                "thrown out for the balloon to rise to 150 m.",
                "4",
            ),
            Example("子集的个数是：\n2^n - 1\n这个结果包括空集。", "2^n - 1"),
            Example("所以面积为：\nS = 3√3\n这就是所求的面积。", "3\\sqrt{3}"),
        ),
    ),
    Rule(
        "last_number",
        7,
        "last_number",
        _last_number,
        why="the last number of the text: a fallback, reported as such",
        examples=(
            Example("We get 3 and then\n7 more", "7"),
            Example(
                "Step by step.\nGiven that Amir eats 4944 cookies, x = 4944. "
                "So 4 * 4944 = 19776. Hence, "
                "both of them eat 19776 cookies together.",
                "19776",
                "If Amir eats 4944 cookies, how many cookies do both of them eat together?",
            ),
        ),
    ),
)

# The rules grouped by priority, most explicit first.
_TIERS: tuple[tuple[Rule, ...], ...] = tuple(
    tuple(r for r in RULES if r.priority == p) for p in sorted({r.priority for r in RULES})
)
_STATEMENTS = next(tier for tier in _TIERS if tier[0].read is _stated)


def candidates(text: str, question: str | None = None) -> Iterator[Candidate]:
    """The answers `text` states, ranked: one per tier of rules that finds one, most explicit
    first. With the `question`, a final sentence that states several quantities is read for the
    asked one."""
    response = Response(ex.prepare(text), question)
    if not response.text:
        return
    for tier in _TIERS:
        found = tier[0].read(response, tier)
        if found is not None:
            yield found


def extract(text: str, question: str | None = None) -> Candidate | None:
    """The final answer of a solution (its first-ranked candidate), or None when it holds
    nothing answer-like."""
    return next(candidates(text, question), None)


def extract_answer(text: str) -> str | None:
    """The final answer of a solution as a string (see `extract` for how it is found)."""
    found = extract(text)
    return found.text if found is not None else None


def stated_line(text: str) -> str | None:
    """The whole line after the last "the answer is" or "Answer:" of `text`, before any value
    is cut from it (a list such as "Ответ: 2; 7." runs past the clause break `extract` sees)."""
    stated = ex.last_statement(ex.prepare(text), _STATEMENTS)
    return stated[1] if stated is not None else None


def rule_named(name: str) -> Rule:
    """The rule called `name`; a KeyError lists the names there are."""
    for rule in RULES:
        if rule.name == name:
            return rule
    raise KeyError(f"no extraction rule {name!r}; rules: {', '.join(r.name for r in RULES)}")
