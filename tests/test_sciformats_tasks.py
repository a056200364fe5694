"""Every task family: reproducible from its seed; each reference grades correct against itself
and wrong against a perturbed answer."""

from __future__ import annotations

import json

import pytest

from sciinstruct.errors import InputError
from sciinstruct.generators import REGISTRY, families, generate, get_family
from sciinstruct.records import Question
from sciinstruct.sciformats.answer_checkers import CHECKERS, check_task_answer
from sciinstruct.sciformats.formulas import parse_formula

FAMILIES = {name: REGISTRY[name] for name in families("format")}

N = 12  # rows per family: enough to meet both classes and several molecules, fast on 2 cores


def _reference(row: dict) -> str:
    """What a perfect model would answer: the answer, or for design tasks the example molecule."""
    return row["metadata"]["example"] if row["answer_type"] == "molecule_design" else row["answer"]


def _perturbed(row: dict) -> str:
    """A plausible but wrong answer for the row."""
    answer, kind = row["answer"], row["answer_type"]
    if kind == "numeric":
        value = float(answer)
        return str(value + 1) if value.is_integer() else f"{value * 1.5 + 1:.2f}"
    if kind == "choice":
        return "no" if answer == "yes" else "yes"
    if kind == "formula":
        counts = dict(parse_formula(answer).counts)
        counts["C"] = counts.get("C", 0) + 1
        return "".join(f"{e}{c}" for e, c in counts.items())
    if kind == "sequence":
        swap = {"A": "G", "G": "A", "C": "T", "T": "C", "U": "C"}
        first = answer[0]
        return swap.get(first, "A" if first != "A" else "G") + answer[1:]
    if kind == "smiles":
        return "O" + answer if not answer.startswith("O") else "C" + answer
    if kind == "molecule_design":  # methane: too light, and of the wrong formula, for any task
        return "C"
    raise AssertionError(kind)


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family_rows(request) -> tuple[str, list[dict]]:
    name = request.param
    return name, [q.model_dump(mode="json") for q in generate(name, N, 3)]


def test_same_seed_same_rows_other_seed_other_rows(family_rows) -> None:
    name, rows = family_rows
    assert len(rows) == N
    assert [q.model_dump(mode="json") for q in generate(name, N, 3)] == rows
    other = [q.model_dump(mode="json")["id"] for q in generate(name, N, 4)]
    assert other != [row["id"] for row in rows]


def test_rows_are_valid_questions_of_the_family(family_rows) -> None:
    name, rows = family_rows
    family = FAMILIES[name]
    for row in rows:
        Question.model_validate(row)  # round-trips the record schema
        assert row["source"] == f"sciinstruct.tasks/{name}"
        assert row["answer_type"] == family.answer_type
        assert row["subject"] in ("chemistry", "biology")
    if family.answer_type == "choice":
        assert {row["answer"] for row in rows} == {"yes", "no"}  # both classes appear


def test_reference_is_correct_and_perturbation_is_wrong(family_rows) -> None:
    _, rows = family_rows
    for row in rows:
        correct, reason = check_task_answer(row, _reference(row))
        assert correct, (row["question"], reason)
        wrong, reason = check_task_answer(row, _perturbed(row))
        assert not wrong, (row["question"], _perturbed(row), reason)


def test_design_answers_are_json_constraints_checked_by_the_checker() -> None:
    row = generate("design-formula", 1, 0)[0]
    constraints = json.loads(row.answer)
    assert set(constraints) == {"formula", "connected"}
    example = row.metadata["example"]
    assert CHECKERS["molecule_design"](example, row.answer, {}) == (True, "all 2 constraints met")
    # disconnected pieces with the right atoms do not count as one molecule
    correct, reason = CHECKERS["molecule_design"](example + ".C", row.answer, {})
    assert not correct and "2 fragment(s)" in reason


def test_unknown_family_suggests_the_closest() -> None:
    with pytest.raises(InputError, match="did you mean 'logp'"):
        get_family("lgp")


def test_a_small_molecule_list_gives_fewer_distinct_rows() -> None:
    from sciinstruct.sciformats.molecules import NamedMolecule, parse_smiles

    pool = [NamedMolecule("CCO", "ethanol", parse_smiles("CCO"))]
    rows = generate("molecular-weight", 5, 0, molecules=pool, fewer_ok=True)
    assert len(rows) == 1 and rows[0].answer == "46.07"
