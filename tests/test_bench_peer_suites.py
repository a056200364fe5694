"""The reader of peers' grader test modules (bench/peer_suite_cases.py) and the archive
handling of bench/bench_peer_suites.py, on test modules written here: no network, no peer code."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_peer_suites as bench  # noqa: E402
from peer_suite_cases import read_module  # noqa: E402

MODULE = r"""
import math
import pytest
from math_verify import parse, verify
from tests.test_all import compare_strings


@pytest.mark.parametrize(
    "gold,pred,expected",
    [
        ("-5", "-5", 1),
        ("2", "AZYUK2A", 0),
        (f"{math.sqrt(17):.15f}", "$\\sqrt{17}$", 1),
        ("$(p,q,r)=(3,2,7)$",),
    ],
)
def test_numbers(gold, pred, expected):
    assert compare_strings(gold, pred, match_types=["expr"]) == expected


@pytest.mark.parametrize("gold, pred, result", [("$12:00$", "$1:00$", 0)])
def test_plain(gold, pred, result):
    assert int(verify(parse(gold), parse(pred))) == result


@pytest.mark.parametrize("answer", [pytest.param("(2,4)", id="tuple")])
def test_itself(answer):
    assert is_equiv(answer, answer)


@pytest.mark.parametrize("x1, x2", [pytest.param("(2,4)", "(4,2)", id="reordered")])
def test_different(x1, x2):
    assert not is_equiv(x1, x2)


@pytest.mark.parametrize("precision", [2])
@pytest.mark.parametrize("gold,pred", [("$\\frac{1}{3}$", "$0.33$"), ("$x$", "$y$")])
def test_stacked(gold, pred, precision):
    assert compare_strings(gold, pred, ["latex", "expr"], precision, strict=False)


def test_literal_call():
    assert compare_strings("$\\frac{1}{3}$", "0.3333$", precision=4) == 1
    assert sympy_expr_eq(Rational(1, 3), Float(0.333), float_rounding=3)


def test_normaliser():
    assert normalize("\\sqrt2") == "\\sqrt{2}"


def helper_not_a_test():
    assert compare_strings("1", "1")
"""


def _line(text: str) -> int:
    """The line of MODULE that starts with `text` (stripped), counted from 1 as ast does."""
    return next(i for i, line in enumerate(MODULE.splitlines(), 1) if line.strip().startswith(text))


def _read():
    return read_module(MODULE, "peer", "tests/test_x.py")


def test_parametrize_rows_become_cases_with_the_tests_settings():
    cases, _ = _read()
    numbers = [c for c in cases if c.test_id.startswith("test_numbers")]
    assert [(c.test_id, c.pred, c.gold, c.expected) for c in numbers] == [
        ("test_numbers[0]", "-5", "-5", True),
        ("test_numbers[1]", "AZYUK2A", "2", False),
    ]
    assert numbers[0].config["match_types"] == ["expr"]
    assert numbers[0].config["precision"] == 6  # the helper's default, as its tests declare it
    assert numbers[0].comparator == "compare_strings"
    assert numbers[0].line == _line("assert compare_strings(gold, pred, match_types")


def test_each_comparator_puts_gold_and_prediction_where_the_peer_does():
    by_id = {c.test_id: c for c in _read()[0]}
    plain = by_id["test_plain[0]"]  # verify(parse(gold), parse(pred)): parse is unwrapped
    assert (plain.pred, plain.gold, plain.expected) == ("$1:00$", "$12:00$", False)
    assert by_id["test_itself[tuple]"].expected is True  # pytest.param ids are kept
    different = by_id["test_different[reordered]"]  # is_equiv(answer, gold), negated assert
    assert (different.pred, different.gold, different.expected) == ("(2,4)", "(4,2)", False)
    literal = by_id["test_literal_call"]  # a literal call; the other assert is no comparison
    assert literal.line == _line('assert compare_strings("$')
    assert (literal.pred, literal.gold, literal.config["precision"]) == (
        "0.3333$",
        "$\\frac{1}{3}$",
        4,
    )


def test_stacked_tables_combine_and_positional_settings_are_read():
    stacked = [c for c in _read()[0] if c.test_id.startswith("test_stacked")]
    assert [c.test_id for c in stacked] == ["test_stacked[0-0]", "test_stacked[0-1]"]
    assert all(c.config["precision"] == 2 and c.config["strict"] is False for c in stacked)
    assert bench.meaning_setting(stacked[0].config) == "strict=False, precision=2"
    assert bench.config_label(stacked[0]) == "latex+expr, strict=False, precision=2"
    numbers = next(c for c in _read()[0] if c.test_id == "test_numbers[0]")
    assert bench.meaning_setting(numbers.config) is None  # expr only narrows extraction
    assert bench.config_label(numbers) == "expr"


def test_what_cannot_be_read_is_listed_with_the_reason():
    cases, unread = _read()
    why = {u.test_id: u.why for u in unread}
    sympy_line = _line("assert sympy_expr_eq")
    assert why == {
        "test_numbers[2]": "gold is not a literal (an f-string): f'{math.sqrt(17):.15f}'",
        "test_numbers[3]": "row has 1 values for 3 names",
        f"test_literal_call@{sympy_line}": "not a (pred, gold) comparison: calls Float, Rational, sympy_expr_eq",
        "test_normaliser": "not a (pred, gold) comparison: its asserts call no known comparison "
        "(calls normalize)",
    }
    assert len(cases) == 8  # helper_not_a_test is no test; nothing else is dropped silently


def _sdist(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"peer-1.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_cached_sdist_is_read_without_the_network(tmp_path, monkeypatch):
    archive = _sdist(
        tmp_path / "peer-1.0.tar.gz",
        {"tests/test_x.py": MODULE, "tests/helpers.py": MODULE, "src/test_y.py": MODULE},
    )
    _sdist(tmp_path / "peer-1.0.1.tar.gz", {})  # another version: not taken for 1.0
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip was called"))
    suite = bench.Suite("peer", "peer==1.0", ())
    assert bench.sdist(suite, tmp_path) == archive
    cases, unread = bench.read_suite(suite, archive)
    assert {c.file for c in cases} == {"tests/test_x.py"}  # only tests/test_*.py
    assert (len(cases), len(unread)) == (8, 4)
    only = bench.Suite("peer", "peer==1.0", ("src/test_y.py",))
    assert {c.file for c in bench.read_suite(only, archive)[0]} == {"src/test_y.py"}


def test_offline_fails_with_one_line_naming_the_pip_command(tmp_path, monkeypatch):
    def no_network(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(subprocess, "run", no_network)
    with pytest.raises(SystemExit) as stop:
        bench.sdist(bench.Suite("peer", "peer==1.0", ()), tmp_path / "cache")
    message = str(stop.value)
    assert message.startswith("could not download peer==1.0 (offline?); run: pip download ")
    assert "peer==1.0 --no-deps --no-binary :all:" in message and "\n" not in message


SCORER_MODULE = r"""
import pytest
from unittest.mock import patch
from inspect_ai.scorer import CORRECT, INCORRECT, Target


@pytest.mark.parametrize(
    ("completion", "target", "expected"),
    [("ANSWER: $\\boxed{996}$", "996", CORRECT), ("ANSWER: 43", "42", INCORRECT)],
)
async def test_edge_cases(completion, target, expected):
    scorer = aime_scorer()
    state = make_state(output=ModelOutput.from_content("test/mock", completion))
    result = await scorer(state, Target(target))
    assert result.value == expected


async def test_no_answer():
    scorer = expression_exact_match()
    state = _create_task_state("The answer is unclear.")
    score = await scorer(state, Target("5"))
    assert score.value == INCORRECT


@pytest.mark.parametrize("target", ["\\frac{1}{"])
async def test_bad_target(target):
    scorer = expression_exact_match()
    with pytest.raises(ValueError):
        await scorer(_create_task_state("ANSWER: 42"), Target(target))


@patch("peer.get_model")
async def test_mocked_judge(mock_get_model):
    scorer = expression_equivalance(model=None)
    score = await scorer(_create_task_state("ANSWER: 42"), Target("42"))
    assert score.value == CORRECT
"""


def test_scorer_tests_give_completion_target_and_verdict():
    cases, unread = read_module(SCORER_MODULE, "peer", "tests/test_scorer.py")
    assert [(c.test_id, c.pred, c.gold, c.expected, c.config["scorer"]) for c in cases] == [
        ("test_edge_cases[0]", "ANSWER: $\\boxed{996}$", "996", True, "aime_scorer"),
        ("test_edge_cases[1]", "ANSWER: 43", "42", False, "aime_scorer"),
        ("test_no_answer", "The answer is unclear.", "5", False, "expression_exact_match"),
    ]
    assert bench.config_label(cases[0]) == "aime_scorer"
    assert {u.test_id: u.why for u in unread} == {
        "test_bad_target": "expects an exception (pytest.raises), not a verdict",
        "test_mocked_judge": "its verdict comes from patched code (patch), not from the pair alone",
    }


def test_a_pair_a_suite_tests_twice_counts_once():
    module = MODULE + "\n\ndef test_again():\n    assert compare_strings('-5', '-5')\n"
    cases, _ = read_module(module, "peer", "tests/test_x.py")
    kept = bench.once_each(cases)
    assert len(cases) - len(kept) == 1
    assert [c.test_id for c in kept if c.pred == "-5"] == ["test_numbers[0]"]
