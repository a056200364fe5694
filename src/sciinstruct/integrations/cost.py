"""A grading item's static cost class: a quick scan, before the item is queued, for the shapes
that make the grader's symbolic work run to its time limit.

Nearly every completion grades in a few milliseconds; a few run for seconds whatever the
machine, because sympy and math-verify expand what the answer writes. Measured on this
project's grader (item timeout 5 s, `bench/results/grade_server.md`):

| shape | example | in a worker |
|---|---|---|
| an exponent inside an exponent | `10^{10^{10^{5}}}`, `2^{3^{4}}` | 4.8 s, 2.6 s |
| a chain of three bare carets | `2^3^4^5` | 2.7 s |
| groups nested 12 deep or more | 16 nested `\\frac{1}{1+...}` | 4.8 s (12 deep: 0.6 s) |
| a factorial or binomial of a 6-digit number | `1000000!`, `100000!`, `\\binom{100000}{50000}` | 4.8 s, 2.2 s, 1.3 s |

while `2^{1000000}`, `6.02 \\times 10^{23}`, `2^3^4`, `10000!`, 20,000 nested braces or a 100,000-digit
answer (too long to parse: refused at once) take under 0.2 s. A shape is not a cost: `e^{-x^{2}}`
and `10^{10^{10}}` are marked too and grade in 0.1-0.3 s. The scan marks an
item expensive when its response or reference has one of those shapes anywhere (the grader
reads the answer from the text; the scan cannot know which part, so it looks at all of it): a
false alarm costs only a pessimistic estimate, a miss is what the server's running-work check
and dequeue backstop are for.

It is a handful of C-speed string operations and, for text with braces or carets, one pass
over those characters alone: about 5 µs on a 1 kB worked solution, against milliseconds to
grade it; a text with more than `MAX_SCANNED` braces or carets is expensive without a scan.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Groups nested this deep make the symbolic check run to its limit (12: 0.6 s, 16: 4.8 s).
MAX_GROUP_DEPTH = 12
# Braces or carets past this are not scanned one by one: such text is marked expensive at once
# (a worked solution has tens), which keeps the scan's own cost bounded on hostile input.
MAX_SCANNED = 1000

_TOKEN = re.compile(r"\^\s*\{|[\^{}]")
_CARET_CHAIN = re.compile(r"\^\s*[\w.]+\s*\^\s*[\w.]+\s*\^")
_HUGE_COMBINATORIAL = re.compile(r"\d{6,}\s*!|\\binom\s*\{\s*\d{6,}")

RULES = ("exponent_tower", "caret_chain", "deep_nesting", "huge_combinatorial", "brace_flood")


def expensive_rule(text: str) -> str | None:
    """The name of the first shape (`RULES`) that makes `text` expensive to grade; None when
    it is cheap."""
    carets, braces = text.count("^"), text.count("{")
    if carets > MAX_SCANNED or braces > MAX_SCANNED:
        return "brace_flood"
    if ("!" in text or "binom" in text) and _HUGE_COMBINATORIAL.search(text):
        return "huge_combinatorial"
    if not carets and not braces:
        return None
    if carets >= 3 and _CARET_CHAIN.search(text):
        return "caret_chain"
    return _nesting_rule(text)


def _nesting_rule(text: str) -> str | None:
    """One pass over the braces and carets: how deep exponents and groups nest."""
    exponent_groups: list[bool] = []  # the open groups, True for an exponent's `^{`
    in_exponent = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == "}":
            if exponent_groups and exponent_groups.pop():
                in_exponent -= 1
            continue
        if token != "{":  # a caret: its exponent sits inside `in_exponent` others
            if in_exponent:
                return "exponent_tower"
            if not token.endswith("{"):
                continue  # a bare caret takes one character or word, no group
            in_exponent += 1
        exponent_groups.append(token != "{")
        if len(exponent_groups) >= MAX_GROUP_DEPTH:
            return "deep_nesting"
    return None


def item_rule(response: str, reference: Any) -> str | None:
    """`expensive_rule` of an item: its response, then its reference's answer (a string or the
    `answer` of a reference object), which the grader parses as well."""
    rule = expensive_rule(response)
    if rule is not None:
        return rule
    answer = reference.get("answer") if isinstance(reference, Mapping) else reference
    return expensive_rule(answer) if isinstance(answer, str) else None
