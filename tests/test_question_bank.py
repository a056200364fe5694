"""The shipped question bank and evaluation set: valid, disjoint, balanced, and correct."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files

import pint
import pytest

from sciinstruct.generators import EASY_FAMILIES, normalise, recompute
from sciinstruct.jsonl import BadLine, read_jsonl
from sciinstruct.records import Question

# file name -> (minimum questions, minimum per subject, source)
FILES = {
    "demo_train.jsonl": (160, 30, "sciinstruct/demo_bank"),
    "demo_heldout.jsonl": (60, 10, "sciinstruct/demo_bank"),
    "eval_set.jsonl": (80, 15, "sciinstruct/eval_set"),
}
SUBJECTS = {"physics", "chemistry", "biology", "math"}
UREG = pint.UnitRegistry()


def load(name: str) -> tuple[list[dict], list[Question]]:
    path = files("sciinstruct") / "data" / "questions" / name
    bad: list[BadLine] = []
    rows = list(read_jsonl(str(path), bad=bad))
    assert bad == []
    return rows, [Question(**row) for row in rows]


@pytest.fixture(scope="module")
def bank() -> dict[str, list[Question]]:
    return {name: load(name)[1] for name in FILES}


@pytest.mark.parametrize("name", FILES)
def test_file_size_subjects_and_source(name: str, bank: dict[str, list[Question]]) -> None:
    minimum, per_subject, source = FILES[name]
    questions = bank[name]
    assert len(questions) >= minimum
    counts = Counter(q.subject for q in questions)
    assert set(counts) == SUBJECTS
    assert min(counts.values()) >= per_subject, counts
    assert {q.source for q in questions} == {source}


@pytest.mark.parametrize("name", FILES)
def test_ids_are_explicit(name: str) -> None:
    rows, questions = load(name)
    prefix = name.removesuffix(".jsonl").replace("_set", "").replace("_", "-")
    for row, q in zip(rows, questions, strict=True):
        assert row["id"] == q.id  # written in the file, not derived at load time
        assert q.id.startswith(f"{prefix}-{q.subject}-"), q.id


def test_ids_and_texts_unique_across_files(bank: dict[str, list[Question]]) -> None:
    ids = Counter(q.id for qs in bank.values() for q in qs)
    assert [i for i, n in ids.items() if n > 1] == []
    owner: dict[str, str] = {}
    for name, questions in bank.items():
        for q in questions:
            key = normalise(q.question)
            assert key not in owner, f"{q.question!r} is in {name} and {owner[key]}"
            owner[key] = name


@pytest.mark.parametrize("name", FILES)
def test_answers_are_well_formed(name: str, bank: dict[str, list[Question]]) -> None:
    types = Counter()
    for q in bank[name]:
        types[q.answer_type] += 1
        assert q.metadata["family"] and q.metadata["difficulty"] in {"easy", "medium", "hard"}
        if q.answer_type == "choice":
            assert q.choices is not None and len(q.choices) >= 3
            assert q.answer in "ABCDE"[: len(q.choices)], q.question
            assert len(set(q.choices)) == len(q.choices)
        else:
            assert q.choices is None
        if q.answer_type == "numeric":
            float(q.answer)  # a plain number; the unit lives in `unit`
        if q.unit is not None:
            assert q.answer_type == "numeric"
            UREG.Unit(q.unit)
    # every file mixes the four answer types the grader handles
    assert {"numeric", "expression", "choice", "text"} <= set(types), types
    assert types["numeric"] >= len(bank[name]) // 3


def test_easy_families_are_enough_to_measure_a_change(bank: dict[str, list[Question]]) -> None:
    def easy(questions: list[Question]) -> list[Question]:
        return [
            q
            for q in questions
            if q.metadata["family"] in EASY_FAMILIES and q.metadata["difficulty"] == "easy"
        ]

    assert len(easy(bank["demo_heldout.jsonl"])) >= 30
    assert len(easy(bank["demo_train.jsonl"])) >= 50
    assert {q.metadata["family"] for q in easy(bank["demo_heldout.jsonl"])} == set(EASY_FAMILIES)


def test_formulaic_references_recompute(bank: dict[str, list[Question]]) -> None:
    checked = 0
    for name in ("demo_train.jsonl", "demo_heldout.jsonl"):
        for q in bank[name]:
            if q.metadata["family"] in EASY_FAMILIES and q.metadata["difficulty"] == "easy":
                expected = recompute(q)
                assert expected is not None, f"{q.id} is not in a template phrasing"
                assert float(q.answer) == pytest.approx(expected, rel=1e-9), q.id
                checked += 1
    assert checked >= 100


def test_files_are_one_compact_object_a_line() -> None:
    for name in FILES:
        text = (files("sciinstruct") / "data" / "questions" / name).read_text(encoding="utf-8")
        lines = text.splitlines()
        assert text.endswith("\n") and all(lines)
        assert all(isinstance(json.loads(line), dict) for line in lines)
