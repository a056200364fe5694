"""Read (prediction, gold, expected) cases out of peers' grader test modules, without running them.

A peer's test module is parsed with `ast`; nothing in it is imported or executed. A case is an
`assert` that calls one of the peers' comparison functions (`COMPARATORS`) with literal
arguments, or with names a `pytest.mark.parametrize` table binds to literals, for example::

    @pytest.mark.parametrize("gold,pred,expected", [("-5", "-5", 1)])
    def test_numbers(gold, pred, expected):
        assert compare_strings(gold, pred, match_types=["expr"]) == expected

gives one `PeerCase(pred="-5", gold="-5", expected=True, config={..., "match_types": ["expr"]})`.
Each table row and each argument is read on its own (`ast.literal_eval`), so one row that is
not a literal (an f-string, a sympy object) costs that row only; it comes back as an `Unread`
with the reason, as does every test function that holds no comparison at all.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Comparator:
    """How a peer's comparison function takes its arguments: where the gold and the prediction
    are, and which other arguments configure it (by position and by keyword), with the defaults
    its definition declares."""

    gold: int
    pred: int
    options: tuple[str, ...] = ()  # positional options, in order, after gold and pred
    defaults: dict[str, Any] = field(default_factory=dict)


# math-verify's tests call their helper `compare_strings(gold, pred, match_types, precision,
# strict, allow_set_relation_comp)` (defaults as tests/test_all.py declares them; its LaTeX
# config reads \boxed first) or the library's `verify(gold, target)` directly; lm-eval's
# minerva tests call `is_equiv(answer, gold)`.
COMPARATORS: dict[str, Comparator] = {
    "compare_strings": Comparator(
        gold=0,
        pred=1,
        options=("match_types", "precision", "strict", "allow_set_relation_comp"),
        defaults={
            "match_types": ["latex", "expr"],
            "precision": 6,
            "strict": True,
            "allow_set_relation_comp": False,
            "boxed_match_priority": 0,
        },
    ),
    "verify": Comparator(
        gold=0,
        pred=1,
        defaults={"match_types": "parse default", "precision": 6, "strict": True},
    ),
    "is_equiv": Comparator(gold=1, pred=0, defaults={"normalizer": "minerva is_equiv"}),
}
# Calls a test wraps an argument in before comparing (the peer's own parse or normalisation):
# the case keeps the string inside, and our grader does its own reading of it.
UNWRAP = {"parse", "normalize", "normalize_final_answer"}
# inspect_ai's score values, as scorer tests compare them
SCORE_VALUES = {"CORRECT": True, "INCORRECT": False}
# helpers that put a completion into the task state a scorer reads (its last argument)
STATE_BUILDERS = {"_create_task_state", "from_content"}
# verify's keyword for what compare_strings calls precision
KEYWORD_ALIASES = {"float_rounding": "precision"}


@dataclass(frozen=True)
class PeerCase:
    """One case of a peer's suite: `expected` is whether the peer's test holds pred equal to
    gold; `config` is the comparison's settings as the test passed them (or their defaults)."""

    suite: str
    file: str
    test_id: str
    line: int
    pred: str
    gold: str
    expected: bool
    config: dict[str, Any]
    comparator: str


@dataclass(frozen=True)
class Unread:
    """A row or a test the reader could not turn into a case, and why."""

    suite: str
    file: str
    test_id: str
    line: int
    why: str


TestFunction = ast.FunctionDef | ast.AsyncFunctionDef


class _NotLiteral(ValueError):
    pass


def read_module(source: str, suite: str, file: str) -> tuple[list[PeerCase], list[Unread]]:
    """Every case in one test module's `source`, and what could not be read."""
    cases: list[PeerCase] = []
    unread: list[Unread] = []
    tree = ast.parse(source, filename=file)
    for func in tree.body:
        if not isinstance(func, TestFunction) or not func.name.startswith("test"):
            continue
        if patched := _patches(func):
            why = f"its verdict comes from patched code ({patched}), not from the pair alone"
            unread.append(Unread(suite, file, func.name, func.lineno, why))
            continue
        asserts = [node for node in ast.walk(func) if isinstance(node, ast.Assert)]
        compared = [(a, call) for a in asserts if (call := _comparison(a.test)) is not None]
        if not compared and _scorer_call(func) is not None:
            got, missed = _scorer_cases(func, suite, file)
            cases += got
            unread += missed
            continue
        if not compared:
            what = "no assert" if not asserts else "its asserts call no known comparison"
            why = f"not a (pred, gold) comparison: {what} ({_called_names(asserts)})"
            unread.append(Unread(suite, file, func.name, func.lineno, why))
            continue
        for a in asserts:
            if all(a is not b for b, _ in compared):
                why = f"not a (pred, gold) comparison: {_called_names([a])}"
                unread.append(Unread(suite, file, f"{func.name}@{a.lineno}", a.lineno, why))
        rows, bad_rows = _parametrize_rows(func)
        for index, why in bad_rows:
            unread.append(Unread(suite, file, f"{func.name}[{index}]", func.lineno, why))
        for (assertion, (call, expected_node, negated)), (row_id, binding) in itertools.product(
            compared, rows
        ):
            test_id = func.name if row_id is None else f"{func.name}[{row_id}]"
            if len(compared) > 1:
                test_id += f"@{assertion.lineno}"
            try:
                case = _case(call, expected_node, negated, binding)
            except _NotLiteral as exc:
                unread.append(Unread(suite, file, test_id, assertion.lineno, str(exc)))
                continue
            pred, gold, expected, config = case
            cases.append(
                PeerCase(
                    suite, file, test_id, assertion.lineno, pred, gold, expected, config,
                    _name(call.func) or "",
                )
            )  # fmt: skip
    return cases, unread


def _patches(func: TestFunction) -> str:
    """The mocking calls in the test (`patch`, `patch.object`, `monkeypatch.setattr`), if any."""
    found = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            called = ast.unparse(node.func)
            if called in {"patch", "patch.object", "mock.patch"} or called.endswith(".setattr"):
                found.add(called)
    return ", ".join(sorted(found))


def _scorer_call(func: TestFunction) -> ast.Call | None:
    """The `Target(gold)` call of a scorer test (inspect_ai's shape: a scorer is called with
    the task state holding the completion and a `Target`), or None."""
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and _name(node.func) == "Target" and len(node.args) == 1:
            return node
    return None


def _scorer_cases(func: TestFunction, suite: str, file: str) -> tuple[list[PeerCase], list[Unread]]:
    """Cases of a scorer test: the completion is the prediction, `Target(...)` holds the gold
    and the assert `score.value == E` the expected CORRECT or INCORRECT; the config names the
    scorer factory the test builds (`scorer = aime_scorer()`)."""
    target = _scorer_call(func)
    assert target is not None
    factory = next(
        (
            _name(node.value.func)
            for node in ast.walk(func)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and any(isinstance(t, ast.Name) and t.id == "scorer" for t in node.targets)
        ),
        None,
    )
    completion = _completion_node(func)
    expected = next(
        (
            node.comparators[0]
            for node in ast.walk(func)
            if isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Attribute)
            and node.left.attr == "value"
            and isinstance(node.ops[0], ast.Eq)
        ),
        None,
    )
    rows, bad_rows = _parametrize_rows(func)
    unread = [Unread(suite, file, f"{func.name}[{i}]", func.lineno, why) for i, why in bad_rows]
    if completion is None or expected is None:
        raises = any(isinstance(n, ast.Call) and _name(n.func) == "raises" for n in ast.walk(func))
        missing = "a completion" if completion is None else "an expected value"
        why = (
            "expects an exception (pytest.raises), not a verdict"
            if raises
            else f"a scorer test without {missing}"
        )
        return [], [*unread, Unread(suite, file, func.name, func.lineno, why)]
    cases = []
    for row_id, binding in rows:
        test_id = func.name if row_id is None else f"{func.name}[{row_id}]"
        try:
            pred = _literal(completion, binding, "completion")
            gold = _literal(target.args[0], binding, "target")
            verdict = _verdict(expected, binding)
        except _NotLiteral as exc:
            unread.append(Unread(suite, file, test_id, func.lineno, str(exc)))
            continue
        config = {"scorer": factory or "?"}
        cases.append(
            PeerCase(suite, file, test_id, target.lineno, pred, gold, verdict, config, "scorer")
        )
    return cases, unread


def _completion_node(func: TestFunction) -> ast.expr | None:
    """What the test hands the scorer as the model's output: the `completion` parameter, or
    the literal given to the helper that builds the task state."""
    if "completion" in {a.arg for a in func.args.args}:
        return ast.Name(id="completion")
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and node.args and _name(node.func) in STATE_BUILDERS:
            return node.args[-1]
    return None


def _verdict(node: ast.expr, binding: dict[str, ast.expr]) -> bool:
    if isinstance(node, ast.Name) and node.id in binding:
        node = binding[node.id]
    if isinstance(node, ast.Name) and node.id in SCORE_VALUES:
        return SCORE_VALUES[node.id]
    raise _NotLiteral(f"expected is not CORRECT or INCORRECT: {_snippet(node)}")


def _comparison(test: ast.expr) -> tuple[ast.Call, ast.expr | None, bool] | None:
    """(the comparison call, the node it is compared with or None, negated) for an assert's
    test of the shapes `F(...) == E`, `E == F(...)`, `int(F(...)) == E`, `F(...)`, `not F(...)`."""
    negated = False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, negated = test.operand, True
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        for side, other in ((test.left, test.comparators[0]), (test.comparators[0], test.left)):
            call = _comparator_call(side)
            if call is not None:
                return call, other, negated
        return None
    call = _comparator_call(test)
    return (call, None, negated) if call is not None else None


def _comparator_call(node: ast.expr) -> ast.Call | None:
    while isinstance(node, ast.Call) and _name(node.func) in {"int", "bool"} and node.args:
        node = node.args[0]
    if isinstance(node, ast.Call) and _name(node.func) in COMPARATORS:
        return node
    return None


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _called_names(asserts: list[ast.Assert]) -> str:
    names = sorted(
        {
            name
            for a in asserts
            for node in ast.walk(a)
            if isinstance(node, ast.Call) and (name := _name(node.func))
        }
    )
    return "calls " + ", ".join(names) if names else "calls nothing"


def _parametrize_rows(
    func: TestFunction,
) -> tuple[list[tuple[str | None, dict[str, ast.expr]]], list[tuple[int, str]]]:
    """The rows of the function's parametrize tables as (id, {argname: value node}), stacked
    tables combined as pytest does; a function without a table has one row that binds
    nothing. Rows that cannot be read come back as (index, why)."""
    tables: list[list[tuple[str, dict[str, ast.expr]]]] = []
    bad: list[tuple[int, str]] = []
    for decorator in func.decorator_list:
        if not (isinstance(decorator, ast.Call) and _name(decorator.func) == "parametrize"):
            continue
        names_node, values_node = decorator.args[:2]
        names = ast.literal_eval(names_node)
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if not isinstance(values_node, ast.List | ast.Tuple):
            why = f"its parametrize values are not a literal list: {_snippet(values_node)}"
            bad.append((0, why))
            continue
        rows = []
        for index, element in enumerate(values_node.elts):
            row_id, items = str(index), [element]
            if isinstance(element, ast.Call) and _name(element.func) == "param":
                items = list(element.args)
                for keyword in element.keywords:
                    if keyword.arg == "id":
                        row_id = ast.literal_eval(keyword.value)
            elif len(names) > 1 and isinstance(element, ast.Tuple):
                items = list(element.elts)
            if len(items) != len(names):
                bad.append((index, f"row has {len(items)} values for {len(names)} names"))
                continue
            rows.append((row_id, dict(zip(names, items, strict=True))))
        tables.append(rows)
    if not tables:
        return [(None, {})], bad
    combined = []
    for parts in itertools.product(*tables):
        row_id = "-".join(part_id for part_id, _ in parts)
        combined.append((row_id, {k: v for _, binding in parts for k, v in binding.items()}))
    return combined, bad


def _case(
    call: ast.Call, expected_node: ast.expr | None, negated: bool, binding: dict[str, ast.expr]
) -> tuple[str, str, bool, dict[str, Any]]:
    shape = COMPARATORS[_name(call.func) or ""]
    config = dict(shape.defaults)
    for position, node in enumerate(call.args[2:]):
        if position < len(shape.options):
            config[shape.options[position]] = _literal(node, binding, shape.options[position])
    for keyword in call.keywords:
        if keyword.arg is not None:
            key = KEYWORD_ALIASES.get(keyword.arg, keyword.arg)
            config[key] = _literal(keyword.value, binding, keyword.arg)
    if len(call.args) <= max(shape.gold, shape.pred):
        raise _NotLiteral(f"the comparison has {len(call.args)} positional arguments")
    gold = _literal(_unwrapped(call.args[shape.gold]), binding, "gold")
    pred = _literal(_unwrapped(call.args[shape.pred]), binding, "pred")
    if not isinstance(gold, str) or not isinstance(pred, str):
        raise _NotLiteral(f"gold or pred is not a string: {gold!r}, {pred!r}")
    expected = True if expected_node is None else _literal(expected_node, binding, "expected")
    if expected not in (0, 1):  # True, False, 1, 0
        raise _NotLiteral(f"expected is not a boolean: {expected!r}")
    return pred, gold, bool(expected) is not negated, config


def _unwrapped(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Call) and _name(node.func) in UNWRAP and node.args:
        node = node.args[0]
    return node


def _literal(node: ast.expr, binding: dict[str, ast.expr], role: str) -> Any:
    if isinstance(node, ast.Name) and node.id in binding:
        node = binding[node.id]
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError) as exc:
        kind = "an f-string" if isinstance(node, ast.JoinedStr) else type(node).__name__
        raise _NotLiteral(f"{role} is not a literal ({kind}): {_snippet(node)}") from exc


def _snippet(node: ast.expr, width: int = 60) -> str:
    text = ast.unparse(node)
    return text if len(text) <= width else text[: width - 3] + "..."
