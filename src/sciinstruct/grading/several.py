"""Several answers: a reference that lists k >= 2 values, read against the response's final
statement as a list of k values ("the roots are 1, 2 and 3", "Part (a): 12. Part (b): 18.",
"$x_1 = 2$，$x_2 = -5$", "(a) 311,875,200 (b) 2,598,960").

The reference decides how many values to look for, so the reading needs no guess about where a
list starts: the statement is split at top-level separators (commas, "and"/"or" in several
languages, part labels), and the run of values that ends it, back to the piece that opens with
words ("the roots are 1"), is the response's list. Values compare as a set unless the question
or the response fixes an order ("in that order", `(a)`/`(b)` parts, a named tuple
`(R, \\delta) = (...)`); numbers compare here, anything else by math-verify in the sandbox.

An interval or an inequality (`x \\in (2, 3)`, `-1 < x < 4`) is not a list of values: against
such a reference it is wrong, whatever math-verify's lenient set comparison says.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sciinstruct.grading import numeric
from sciinstruct.grading.answer_types import has_prose
from sciinstruct.grading.extract import (
    EXPLICIT,
    Candidate,
    find_boxed,
)
from sciinstruct.grading.lexicon import (
    AND,
    MATH_DELIMITERS,
    OR,
    PART,
    PART_LABEL,
    PART_LABEL_PATTERN,
    ZH_AND_OR,
    alternation,
)
from sciinstruct.grading.text import unwrap_text

if TYPE_CHECKING:
    from sciinstruct.grading.readings import Readings

_MAX_ITEMS = 12
# "and" / "or" in every language of the lexicon ("Ответ: 2 и 7").
_JOINERS = alternation(AND, OR)
# Separators between the values of a list, at bracket depth 0: punctuation (also CJK), "and" /
# "or" in en, de, fr, es, zh, `\quad`, a sentence break, and the gap before a part label
# ("12 (b) 18").
_SEPARATOR = re.compile(
    rf"\s*(?:[,;，；、]|。|\.(?=\s|$)|\\q?quad\b|\s(?:{_JOINERS}|i\.e\.)\s"
    rf"|[{ZH_AND_OR}])\s*(?:(?:and|or|und|et)\s+)?"
    rf"|(?<!\b[Pp]art)(?<!\b[Tt]eil)\s+(?={PART_LABEL_PATTERN}\s)",
    re.IGNORECASE,
)
# `x =`, `x_1 =`, `E_{2} \approx`, `W(x) =`, `\delta =`: the name a value is given.
_NAME = re.compile(
    r"(?:^|(?<=[\s(]))(\\?[A-Za-z]+(?:_\{?\w+\}?)?(?:\s*\(\s*[a-z]\s*\))?)\s*(?:=|≈|\\approx)\s*$"
)
# What gives a list item its value: `=`, `:`, "解得", else a verb ("... are -1").
_VALUE_CUT = re.compile(r"(?P<equals>=|≈|\\approx|:|：|解得|得)|\s(?:is|are)\s")
_MATH_START = re.compile(
    r"[-+−]?\.?\d|[(\[]|[-+−]?\\(?!text|mathrm|quad)|(?<![A-Za-z\\'’])[-+−]?[a-z](?=[\s^_=+\-*/(]|$)"
)
# A three-digit group after a comma inside one number: 311,875,200.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# `x \in (2, 3)`, `-1 < x < 4`, `[1, 4]`, `(0, 3]`, a union: an interval or an inequality.
_INTERVAL = re.compile(
    r"\\in\s*(?:\\left)?[(\[]|[<>≤≥]|\\(?:le|ge|leq|geq|lt|gt|cup)\b"
    r"|^\s*(?:\[[^\[\]]*,[^\[\]]*[\])]|\([^()]*,[^()]*\])\s*$"
)
_ORDERED_QUESTION = re.compile(
    r"(?i)\bin\s+(?:that|this|the\s+same|the\s+given)\s+order\b|\brespectively\b|\(in\s+order\)"
    r"|依次|分别|按顺序|\(a\)[\s\S]*\(b\)|\b(?:path|route)\b"
)
# What a box stands after: `x \in \boxed{(2, 3)}` (an interval), `(R, \delta) = \boxed{...}`.
# A clause after a list that remarks on it: "so their product is -4", "whose sum is 30"; or
# (`tuple`) the remark after a tuple's closing bracket, to the end: "(2, 0) with value 6".
_AFTERTHOUGHT = re.compile(
    r"(?i)(?P<tuple>\)\s+(?:so|which|whose|where|with|giving|hence|thus)\b.*$)"
    r"|(?:so|which|whose|since|because|giving|hence|thus|where|as|with|both|all)\b"
)


def _afterthought(piece: str) -> bool:
    remark = _AFTERTHOUGHT.match(piece)
    return remark is not None and remark["tuple"] is None


# A tuple of names in a question: "the ordered pair $(a, b)$", "(x, y, z)".
_NAME_TUPLE = re.compile(
    r"\(\s*((?:(?:[A-Za-z]|\\[a-z]+)(?:_\{?\w+\}?)?\s*,\s*)+(?:[A-Za-z]|\\[a-z]+)(?:_\{?\w+\}?)?)\s*\)"
)
_SET_PREFIX = re.compile(r"^\s*[A-Za-z]\s*\\in\s*")


def _opens_first_part(line: str) -> bool:
    """A line that opens part (a) or (i): "(a) Using v = d/t:"."""
    label = PART_LABEL.match(line)
    return label is not None and label.group("label").lower() in ("a", "i")


def _ends_in_name_tuple(text: str) -> bool:
    """ "The optimal point is (x, y) =": the names end what comes before the values."""
    end = len(text.rstrip())
    return any(m.end() == end for m in _NAME_TUPLE.finditer(text))


def _math_tail(text: str) -> str:
    """`text` without trailing space and one closing `$`: `x \\in $` -> `x \\in`."""
    return text.rstrip().removesuffix("$").rstrip()


def _ends_in_membership(text: str) -> bool:
    """`x \\in`, `x \\in $`: what comes next (a box) is the set the value lies in."""
    return _math_tail(text).endswith("\\in")


def _ends_in_named_tuple(text: str) -> bool:
    """`(R, \\delta) =`, `(x, y) = $`: the names of the values boxed next."""
    tail = _math_tail(text)
    return tail.endswith("=") and tail[:-1].rstrip().endswith(")")


@dataclass(frozen=True)
class Item:
    """One value of a list and the name it was given (`x`, `y_1`), if any."""

    value: str
    name: str = ""


@dataclass(frozen=True)
class Plan:
    """What the list reading decided: a verdict here, or item pairs for the sandbox."""

    verdict: tuple[bool, str] | None = None
    task: tuple[str, tuple[Any, ...]] | None = None
    read: str | None = None  # the values read from the response, for the verdict's `extracted`
    rule: str = "list_reading"  # how they were read: the final statement, its parts' boxes or lines


def reference_items(gold: str) -> list[Item] | None:
    """The values of a reference that lists two or more (`1, 2, 3`, `x=1, y=2`, `\\{1, 2\\}`,
    `(0,0),(4,0)`), or None for one value, one tuple or one interval."""
    body = _unbraced_set(gold.strip())
    pieces = _split(_listed(body))
    if pieces is None or len(pieces) < 2 or len(pieces) > _MAX_ITEMS:
        return None
    items = [_item(piece) for piece in pieces]
    if any(item is None or item[2] for item in items):
        return None  # a piece that is words, or holds words before its value: not a list
    return [Item(value, name) for value, name, _ in items]  # type: ignore[misc]


def _listed(body: str) -> str:
    """`[1, -1]`, `[4, 16, 65536]` (a list written as Python writes it) -> its items; an
    interval `[1, 4]` (two ascending numbers) and a matrix `[[2, 1], [4, 3]]` stay as written."""
    inner = _outer(body, "[", "]")
    pieces = _split(inner) if inner is not None else None
    if not pieces or any(p.startswith("[") for p in pieces):
        return body
    ends = _numbers(pieces) if len(pieces) == 2 else None
    if ends is not None and ends[0].value < ends[1].value:
        return body
    return inner  # type: ignore[return-value]


def plan(
    found: Candidate,
    readings: Readings,
    gold: str,
    rtol: float,
    question: str | None,
) -> Plan | None:
    """The list check of `found` against a reference that lists several values, or None when
    the reference is one value or the response's statement does not hold as many; what else
    it reads of the response, it asks `readings` for (the final lines, the whole answer line,
    the boxes, the part-labelled lines)."""
    golds = reference_items(gold) or _named_by_question(gold, question)
    if golds is None:
        return _endpoints(found, readings, gold)
    box_context = readings.before_last_box() if found.how == "boxed" else None
    before = box_context.text if box_context is not None else ""
    read = None
    for statement in _statements(found, readings):
        read = _response_items(statement, len(golds))
        if read is not None:
            break
    if read is None and _ends_in_named_tuple(before):  # `(R, \delta) = \boxed{(a, b)}`
        read = _one_group(f"(_) = {statement}", len(golds))
    rule = "list_reading"
    if read is None and found.how == "boxed":  # "(a) \\boxed{2}\n(b) \\boxed{5}": a box a part
        read = _boxed_parts(readings.boxes(), len(golds))
        rule = "boxed_parts" if read is not None else rule
    if read is None and found.how not in EXPLICIT:
        read = _parts_reading(readings.lines().value, len(golds))
        rule = "parts_reading" if read is not None else rule
    shaped = _INTERVAL.search(statement) or _ends_in_membership(before)
    if read is None and shaped and not _INTERVAL.search(gold):
        return Plan(verdict=(False, "an interval or inequality is not a list of values"))
    if read is None:
        return None
    preds, ordered = read
    ordered = ordered or bool(question and _ORDERED_QUESTION.search(question))
    named = _names_match(preds, golds)
    if named is not None:
        preds, ordered = named, True
    elif _distinct_names(golds):  # a system's solution whose names were not all read
        ordered = True
    pred_values = [p.value for p in preds]
    gold_values = [g.value for g in golds]
    numbers = _numbers(pred_values), _numbers(gold_values)
    read_text = ", ".join(pred_values)
    if numbers[0] is not None and numbers[1] is not None:
        decided = _numeric_plan(numbers[0], numbers[1], ordered, rtol)
        return replace(decided, read=read_text, rule=rule) if decided is not None else None
    task = ("items_equal", (tuple(pred_values), tuple(gold_values), ordered, rtol))
    return Plan(task=task, read=read_text, rule=rule)


def _endpoints(found: Candidate, readings: Readings, gold: str) -> Plan | None:
    """Against an interval-looking reference `(-2, 5)` (two ascending numbers), a response
    that lists the two values without brackets ("-2, 5") states endpoints: wrong (rule 9)."""
    inner = _outer(gold.strip(), "(", ")")
    ends = _numbers(_split(inner) or []) if inner is not None else None
    if not ends or len(ends) != 2 or ends[0].value >= ends[1].value:
        return None
    statement = _statement(found, readings)
    if _INTERVAL.search(statement):  # `x > -2, x < 6` is the interval
        return None
    read = _response_items(statement, 2)
    bracketed = _tidy(statement).startswith(("(", "[", "{", "\\{"))  # a pair or a set: read
    if read is None or read[1] or _distinct_names(read[0]) or bracketed:
        return None
    return Plan(verdict=(False, "two values listed, not the interval or pair asked for"))


def _numeric_plan(
    preds: list[numeric.Quantity], golds: list[numeric.Quantity], ordered: bool, rtol: float
) -> Plan | None:
    def same(i: int, j: int) -> bool:
        return numeric.compare(preds[i], golds[j], rtol)[0]

    k = len(golds)
    if ordered and all(same(i, i) for i in range(k)):
        return Plan(verdict=(True, f"the same {k} values in order"))
    if match(k, same):
        if ordered:
            return Plan(verdict=(False, f"the same {k} values, in another order than asked"))
        return Plan(verdict=(True, f"the same {k} values"))
    return None  # differing values: the ordinary check decides (it may read other numbers)


def match(k: int, same: Callable[[int, int], bool]) -> bool:
    """True when the k predicted items pair off one to one with the k reference items."""
    table = [[same(i, j) for j in range(k)] for i in range(k)]
    used: set[int] = set()

    def place(i: int) -> bool:
        if i == k:
            return True
        for j in range(k):
            if table[i][j] and j not in used:
                used.add(j)
                if place(i + 1):
                    return True
                used.discard(j)
        return False

    return place(0)


def _numbers(values: Sequence[str]) -> list[numeric.Quantity] | None:
    out = []
    for value in values:
        quantity = numeric.parse_quantity(value)
        if quantity is None or (quantity.unit and numeric.parse_unit(quantity.unit) is None):
            return None
        out.append(quantity)
    return out


def _names_match(preds: list[Item], golds: list[Item]) -> list[Item] | None:
    """The predicted items in the reference's order when both name each value and the names
    are distinct variables (`x = 1, y = 2`, a system's solution); None otherwise."""
    gold_names = [g.name for g in golds]
    if not _distinct_names(golds):
        return None
    by_name = {_bare(p.name): p for p in preds if p.name}
    if len(by_name) != len(preds):
        return None
    ordered = [by_name.get(_bare(n)) for n in gold_names]
    return ordered if all(ordered) else None  # type: ignore[return-value]


def _distinct_names(items: list[Item]) -> bool:
    return all(i.name for i in items) and len({_bare(i.name) for i in items}) == len(items)


def _bare(name: str) -> str:
    return re.sub(r"[\s{}]", "", name)


def _named_by_question(gold: str, question: str | None) -> list[Item] | None:
    """The items of a tuple reference (`(2, -3)`) named by the one tuple of names the question
    asks for ("Find the ordered pair (a, b)."), so that `b = -3, a = 2` reads in its order."""
    inner = _outer(gold.strip(), "(", ")")
    values = _split(inner) if inner is not None else None
    if not question or values is None or not 2 <= len(values) <= _MAX_ITEMS:
        return None
    tuples = {
        tuple(_bare(n) for n in m.group(1).split(","))
        for m in _NAME_TUPLE.finditer(question)
        if m.group(1).count(",") == len(values) - 1
    }
    if len(tuples) != 1 or len(set(names := next(iter(tuples)))) != len(values):
        return None
    items = [_item(v) for v in values]
    if any(i is None or i[1] or i[2] for i in items):
        return None
    return [Item(i[0], n) for i, n in zip(items, names, strict=True)]  # type: ignore[index]


def _statements(found: Candidate, readings: Readings) -> list[str]:
    """Where a list answer is read from, first to try first: an answer line's whole rest when
    its value was cut at a separator ("Ответ: 2; 7." states two values), then `_statement`."""
    statement = _statement(found, readings)
    stated = readings.answer_line() if found.how in ("answer_is", "answer_label") else None
    line = stated.text if stated is not None else None
    at = line.find(found.text) if line and find_boxed(line) is None else -1
    return [line[at:], statement] if line and at >= 0 and line[at:] != statement else [statement]


def _boxed_parts(boxes: tuple[Candidate, ...], k: int) -> tuple[list[Item], bool] | None:
    """The k last boxes of a response (each with its line up to the box as its `value`) when
    each opens a part-labelled line, or when they share one line and what stands between each
    two names a part (`\\boxed{(3, 3)} \\text{ for part (a) and } \\boxed{(1, 1)}`), in order."""
    boxes = boxes[-k:]
    if len(boxes) < k:
        return None
    labelled = all(PART_LABEL.match(box.value) for box in boxes)
    inline = all(
        after.value.startswith(before.value)
        and _names_part(after.value[len(before.value) :].split(before.text, 1)[-1])
        for before, after in itertools.pairwise(boxes)
    )
    if not (labelled or inline):
        return None
    return _response_items(" ; ".join(box.text for box in boxes), k)


def _names_part(text: str) -> bool:
    """True when `text` names a part of the question: " for part (a) and ", " (b) "."""
    words = unwrap_text(text, pad=" ").lower().split()
    return any(word in PART.values() or PART_LABEL.match(word) for word in words)


def _parts_reading(lines: tuple[str, ...], k: int) -> tuple[list[Item], bool] | None:
    """The k parts of a response that answers them with their work, from its last line that
    opens part (a) on ("(a) Using v = d/t:\nv = 12 m/s\n(b) ..."): each part's last value."""
    lines = [_tidy(ln) for ln in lines]
    starts = [i for i, line in enumerate(lines) if _opens_first_part(line)]
    pieces = _split(" ; ".join(lines[starts[-1] :])) if starts else None
    items = _by_parts(pieces, k) if pieces else None
    return (items, True) if items else None


def _statement(found: Candidate, readings: Readings) -> str:
    """The text a list answer is read from: the model's own box or answer line, else the
    final line of the response (with the part-labelled lines just before it)."""
    if found.how in EXPLICIT:
        return found.text
    final = readings.final_lines()
    return final.text if final is not None else found.text


def _response_items(statement: str, k: int) -> tuple[list[Item], bool] | None:
    """The k values that end `statement` and whether its form orders them, or None."""
    text = _tidy(statement)
    for body in (_THOUSANDS.sub("", text), text):  # 311,875,200 is one number, 1,2,3 three
        read = _trailing_run(body, k)
        if read is not None:
            return read
    return None


def _trailing_run(text: str, k: int) -> tuple[list[Item], bool] | None:
    pieces = _split(text)
    if pieces is None:
        return None
    ordered = any(PART_LABEL.match(p) for p in pieces)
    parts = _by_parts(pieces, k) if ordered else None
    if parts is not None:
        return parts, True
    if len(pieces) == 1 and not (
        "\\pm" in pieces[0] or "±" in pieces[0]
    ):  # `(R, \delta) = (a, b)`, a set
        return _one_group(pieces[0], k)
    while len(pieces) > k and _afterthought(pieces[-1]):
        pieces.pop()  # "..., so their product is -4": a remark after the list
    run: list[Item] = []
    for piece in reversed(pieces):
        item = _item(piece)
        if item is None:
            break
        run.extend(Item(value, item[1]) for value in _plus_minus(item[0])[::-1])
        if item[2]:  # "the roots are 1": the piece that opens the list
            break
    if len(run) != k:
        return None
    return run[::-1], ordered


def _by_parts(pieces: list[str], k: int) -> list[Item] | None:
    """One value per part when the statement has k part labels: each part's last value, read
    as that part's own final statement ("(a) The speed is 12 m/s. (b) ..."), remarks aside."""
    starts = [i for i, piece in enumerate(pieces) if PART_LABEL.match(piece)]
    if len(starts) != k:
        return None
    items = []
    for start, end in zip(starts, [*starts[1:], len(pieces)], strict=True):
        part = [pieces[start]] + [p for p in pieces[start + 1 : end] if not _afterthought(p)]
        values = [item for item in map(_item, part) if item is not None]
        if not values:
            return None
        items.append(Item(values[-1][0], values[-1][1]))
    return items


def _plus_minus(value: str) -> list[str]:
    """`1 \\pm \\sqrt{2}` -> `1 + \\sqrt{2}`, `1 - \\sqrt{2}`: the two values it writes as one."""
    if value.count("\\pm") + value.count("±") != 1:
        return [value]
    return [value.replace("\\pm", sign).replace("±", sign) for sign in "+-"]


def _one_group(piece: str, k: int) -> tuple[list[Item], bool] | None:
    head, _, value = piece.rpartition("=")
    value = _AFTERTHOUGHT.sub(lambda m: ")" if m["tuple"] else m[0], value)  # the tuple only
    inner = _outer(value.strip(), "(", ")") or _outer(_unbraced_set(value.strip()), "", "")
    if inner is None:
        return None
    parts = _split(inner)
    if parts is None or len(parts) != k:
        return None
    items = [_item(p) for p in parts]
    if any(i is None or i[2] for i in items):
        return None
    # `(R, \delta) = (a, b)` names its values in order; a bare `(a, b)` may be an interval
    ordered = bool(_outer(head.strip(), "(", ")") or _ends_in_name_tuple(head))
    if value.strip().startswith("(") and not ordered and k == 2:
        return None
    return [Item(i[0], i[1]) for i in items], ordered  # type: ignore[index]


def _outer(s: str, left: str, right: str) -> str | None:
    """`s` without one bracket pair that encloses all of it, or None."""
    if not left:
        return s if s else None
    if not (s.startswith(left) and s.endswith(right)):
        return None
    depth = 0
    for i, ch in enumerate(s):
        depth += ch == left
        depth -= ch == right
        if depth == 0 and i < len(s) - 1:
            return None
    return s[1:-1]


def _unbraced_set(s: str) -> str:
    """`\\{1, 2\\}` (also after `x \\in`) -> `1, 2`; anything else unchanged."""
    s = _SET_PREFIX.sub("", s)
    if s.startswith("\\{") and s.endswith("\\}") and s.count("\\{") == 1:
        return s[2:-2]
    if s.startswith("{") and s.endswith("}") and s.count("{") == 1:  # `n ∈ {4, 16}` in text
        return s[1:-1]
    return s


# `x₁` is `x_1`: a subscript digit names a value, it is not prose.
_SUBSCRIPTS = {0x2080 + d: f"_{d}" for d in range(10)}


def _tidy(s: str) -> str:
    s = MATH_DELIMITERS.sub(" ", unwrap_text(s, " ").replace("**", " "))  # ** : Markdown bold
    s = s.replace("°", "^\\circ").replace("−", "-").replace("∈", "\\in ").translate(_SUBSCRIPTS)
    return re.sub(r"\s+", " ", s).strip().rstrip(".。")


def _split(text: str) -> list[str] | None:
    """`text` cut at the separators that stand outside brackets, or None if unbalanced."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0 and not PART_LABEL.match(text[max(start, i - 6) : i + 1]):
                return None
            depth = max(depth, 0)
        elif depth == 0:
            sep = _SEPARATOR.match(text, i)
            if sep and sep.end() > i:
                pieces.append(text[start:i])
                start = i = sep.end()
                continue
        i += 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def _item(piece: str) -> tuple[str, str, bool] | None:
    """(value, name, opened by words) of one piece of a list, or None when it holds none."""
    s = PART_LABEL.sub("", piece, count=1).strip()
    lead = ""
    cuts = list(_VALUE_CUT.finditer(s))
    cut = next((c for c in reversed(cuts) if c.group("equals")), None)  # the last `=` or `:`
    name = ""
    if cut is None and cuts:  # "The generators of (ℤ, +) are -1": the value follows the verb
        lead, s = s[: cuts[-1].start()], s[cuts[-1].end() :].strip()
    if cut is not None:
        head = s[: cut.start()]
        named = _NAME.search(head + "=")
        if named:
            name, head = named.group(1), head[: named.start()]
        lead, s = head, s[cut.end() :].strip()
    start = _MATH_START.search(s)
    if start is None:
        return None
    lead, s = f"{lead} {s[: start.start()]}", s[start.start() :].strip()
    if has_prose(s) or re.search(r"[^\x00-\x7f]", s):  # "253.6 J mol^{-1}": its value
        quantity = numeric.parse_quantity(s)
        if quantity is not None and quantity.unit and numeric.parse_unit(quantity.unit) is None:
            quantity = None  # "45 m before stopping": the number, not the words after it
        head = re.match(r"[^A-Za-z\u0080-\uffff]*\d", s)
        if quantity is None and head is None:
            return None
        s = s if quantity is not None else head.group(0)  # type: ignore[union-attr]
    if not re.search(r"[\d\\]|^[-+]?[a-z]", s):
        return None
    opened = bool(re.search(r"[^\W\d_]{2,}|[^\x00-\x7f]", lead))
    return s.strip(" ,"), name, opened
