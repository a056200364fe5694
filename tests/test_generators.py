"""Question generators: reproducible from a seed, and every reference recomputes from its text."""

from __future__ import annotations

import math
import re
from collections import Counter

import pint
import pytest

from sciinstruct.errors import InputError
from sciinstruct.generators import (
    EASY_FAMILIES,
    families,
    format_number,
    generate,
    get_family,
    normalise,
    recompute,
    write_questions,
)
from sciinstruct.generators.stoichiometry import COMPOUNDS, REACTIONS, atoms, molar_mass
from sciinstruct.jsonl import read_jsonl
from sciinstruct.records import Question

ALL_FAMILIES = [
    "average_speed",
    "force",
    "gas_laws",
    "kinematics",
    "metric_prefix",
    "ohms_law",
    "percent_change",
    "percentage",
    "resistors",
    "stoichiometry",
    "unit_conversion",
]
UREG = pint.UnitRegistry()
N = 60  # per family: enough to draw every branch of each family several times


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]


@pytest.fixture(scope="module")
def drawn() -> dict[str, list[Question]]:
    return {name: generate(name, N, seed=11) for name in ALL_FAMILIES}


def test_registry_lists_every_family() -> None:
    assert families("template") == ALL_FAMILIES
    assert set(families()) > set(ALL_FAMILIES)  # the format families share the registry
    assert set(EASY_FAMILIES) <= set(ALL_FAMILIES)


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_same_seed_same_questions_other_seed_other_questions(name: str) -> None:
    first = [q.model_dump() for q in generate(name, 15, seed=3)]
    again = [q.model_dump() for q in generate(name, 15, seed=3)]
    other = [q.model_dump() for q in generate(name, 15, seed=4)]
    assert first == again
    assert first != other
    assert len({row["question"] for row in first}) == 15  # distinct within one draw


@pytest.mark.parametrize("name", ALL_FAMILIES)
def test_records_are_complete(name: str, drawn: dict[str, list[Question]]) -> None:
    family = get_family(name)
    for q in drawn[name]:
        assert q.subject == family.subject
        assert q.answer_type == "numeric"
        assert q.source == "sciinstruct/generators"
        assert q.metadata["family"] == name
        assert q.metadata["difficulty"] in {"easy", "medium", "hard"}
        assert q.metadata["seed"] == 11
        assert q.solution and q.answer in q.solution
        assert math.isfinite(float(q.answer))
        if q.unit is not None:
            UREG.Unit(q.unit)  # raises on a unit pint cannot parse
    if name in EASY_FAMILIES:
        assert sum(q.metadata["difficulty"] == "easy" for q in drawn[name]) >= N // 2


@pytest.mark.parametrize("name", EASY_FAMILIES)
def test_easy_family_references_recompute(name: str, drawn: dict[str, list[Question]]) -> None:
    for q in drawn[name]:
        expected = recompute(q)
        assert expected is not None, q.question
        assert float(q.answer) == pytest.approx(expected, rel=5e-3), q.question


def test_unit_conversion_converts_back(drawn: dict[str, list[Question]]) -> None:
    for q in drawn["unit_conversion"]:
        value, src = re.fullmatch(r"Convert (\S+) (\S+) to \S+\.", q.question).groups()
        back = UREG.Quantity(float(q.answer), q.unit).to(src).magnitude
        assert back == pytest.approx(float(value), rel=5e-3), q.question
        if q.metadata["difficulty"] == "easy":  # powers of ten and sixty: exact
            assert back == pytest.approx(float(value), rel=1e-12), q.question


def test_metric_prefix_is_whole_numbers_one_prefix_step_apart(
    drawn: dict[str, list[Question]],
) -> None:
    directions = set()
    for q in drawn["metric_prefix"]:
        value, src = re.fullmatch(r"Convert (\d+) (\S+) to \S+\.", q.question).groups()
        assert q.answer.isdigit(), q.question  # no decimals: the answer is the digits, re-zeroed
        factor = UREG.Quantity(1, src).to(q.unit).magnitude
        assert factor in (
            pytest.approx(10),
            pytest.approx(100),
            pytest.approx(1000),
        ) or 1 / factor in (pytest.approx(10), pytest.approx(100), pytest.approx(1000)), q.question
        assert int(q.answer) == pytest.approx(int(value) * factor), q.question
        directions.add(factor > 1)
        # the worked solution states the factor before using it
        assert q.solution.endswith(f"= {q.answer} {q.unit}.") and "so" in q.solution
    assert directions == {True, False}


def test_ohms_law_holds(drawn: dict[str, list[Question]]) -> None:
    for q in drawn["ohms_law"]:
        given = {unit: n for n, unit in re.findall(r"(\d+) (V|A|Ω)", q.question)}
        given[{"ohm": "Ω"}.get(q.unit, q.unit)] = q.answer
        volts, amps, ohms = (float(given[k]) for k in ("V", "A", "Ω"))
        assert volts == pytest.approx(amps * ohms), q.question


def test_force_and_speed_hold(drawn: dict[str, list[Question]]) -> None:
    for q in drawn["force"]:
        given = {unit: n for n, unit in re.findall(r"(\d+) (N|kg|m/s²)", q.question)}
        given[{"m/s^2": "m/s²"}.get(q.unit, q.unit)] = q.answer
        assert float(given["N"]) == pytest.approx(float(given["kg"]) * float(given["m/s²"]))
    for q in drawn["average_speed"]:
        distance, time = numbers(q.question)
        assert float(q.answer) * time == pytest.approx(distance), q.question


def test_percentages_hold(drawn: dict[str, list[Question]]) -> None:
    for q in drawn["percentage"]:
        percent, whole = numbers(q.question)
        assert float(q.answer) == percent * whole / 100  # whole numbers: exact
        assert float(q.answer).is_integer()
    for q in drawn["percent_change"]:
        old, new = numbers(q.question)[:2]
        assert float(q.answer) == pytest.approx(abs(new - old) / old * 100, rel=5e-3)
        assert ("increase" in q.question) == (new > old)


def test_resistors_hold(drawn: dict[str, list[Question]]) -> None:
    for q in drawn["resistors"]:
        ohms = [float(x) for x in re.findall(r"(\d+) Ω", q.question)]
        total = sum(ohms) if "series" in q.question else 1 / sum(1 / r for r in ohms)
        if q.unit == "ohm":
            assert float(q.answer) == pytest.approx(total, rel=5e-3), q.question
        else:
            volts = float(re.search(r"(\d+) V battery", q.question)[1])
            assert float(q.answer) * total == pytest.approx(volts, rel=5e-3), q.question


def test_kinematics_holds(drawn: dict[str, list[Question]]) -> None:
    for q in drawn["kinematics"]:
        answer = float(q.answer)
        if "brakes" in q.question:  # v² = u² − 2as with v = 0
            u, a = numbers(q.question)
            assert u * u == pytest.approx(2 * a * answer, rel=5e-3)
            continue
        u = 0.0 if "from rest" in q.question else numbers(q.question)[0]
        a, t = numbers(q.question)[-2:]
        expected = u + a * t if "final speed" in q.question else u * t + a * t * t / 2
        assert answer == pytest.approx(expected, rel=5e-3), q.question


# Standard atomic weights (IUPAC, g/mol), independent of the RDKit table the generator uses.
WEIGHTS = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "Na": 22.990, "Mg": 24.305,
           "S": 32.06, "Cl": 35.45, "K": 39.098, "Ca": 40.078}  # fmt: skip


def textbook_mass(formula: str) -> float:
    return sum(WEIGHTS[element] * n for element, n in atoms(formula).items())


def test_molar_masses_match_standard_weights() -> None:
    assert molar_mass("H2O") == pytest.approx(18.015, rel=1e-4)
    for formula in [*COMPOUNDS, *(f for side in REACTIONS for _, f in side[0] + side[1])]:
        assert molar_mass(formula) == pytest.approx(textbook_mass(formula), rel=1e-3), formula
    assert atoms("C6H12O6") == {"C": 6, "H": 12, "O": 6}
    with pytest.raises(ValueError, match="brackets"):
        atoms("Ca(OH)2")


def test_reactions_are_balanced() -> None:
    for reactants, products in REACTIONS:
        left, right = {}, {}
        for side, terms in ((left, reactants), (right, products)):
            for coefficient, formula in terms:
                for element, n in atoms(formula).items():
                    side[element] = side.get(element, 0) + coefficient * n
        assert left == right, (reactants, products)


def coefficient(equation: str, formula: str) -> int:
    match = re.search(rf"(?:^|\s)(\d*){formula}(?:\s|$)", equation)
    return int(match[1] or 1)


def test_stoichiometry_holds(drawn: dict[str, list[Question]]) -> None:
    kinds = set()
    for q in drawn["stoichiometry"]:
        answer = float(q.answer)
        if "How many moles" in q.question:
            kinds.add("moles")
            formula, grams = re.search(r"\((\w+)\) are in (\S+) g", q.question).groups()
            assert float(grams) / answer == pytest.approx(textbook_mass(formula), rel=5e-3)
        elif "What is the mass" in q.question:
            kinds.add("mass")
            moles, formula = re.search(r"of (\S+) mol of .*\((\w+)\)", q.question).groups()
            assert answer / float(moles) == pytest.approx(textbook_mass(formula), rel=5e-3)
        else:
            kinds.add("reaction")
            equation = q.metadata["equation"]
            wanted, grams, given = re.search(
                r"mass of (\w+) .* from (\S+) g of (\w+)", q.question
            ).groups()
            moles = (
                float(grams)
                / textbook_mass(given)
                * coefficient(equation, wanted)
                / coefficient(equation, given)
            )
            assert answer == pytest.approx(moles * textbook_mass(wanted), rel=5e-3), q.question
    assert kinds == {"moles", "mass", "reaction"}


def test_gas_laws_hold(drawn: dict[str, list[Question]]) -> None:
    kinds = set()
    for q in drawn["gas_laws"]:
        values = numbers(q.question)
        answer = float(q.answer)
        if "constant temperature" in q.question:  # P1·V1 = P2·V2
            kinds.add("boyle")
            v1, p1, p2 = values
            assert p1 * v1 == pytest.approx(p2 * answer, rel=5e-3)
        elif "constant pressure" in q.question:  # V1/T1 = V2/T2
            kinds.add("charles")
            v1, t1, t2 = values
            assert v1 / t1 == pytest.approx(answer / t2, rel=5e-3)
        else:  # PV = nRT; kPa × L = J
            kinds.add("ideal")
            volume, kpa, kelvin, r = values
            assert kpa * volume == pytest.approx(answer * r * kelvin, rel=5e-3)
    assert kinds == {"boyle", "charles", "ideal"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3500.0, "3500"),
        (0.25, "0.25"),
        (2.0833333, "2.08"),
        (1234567, "1230000"),
        (0.000123456, "0.000123"),
        (0, "0"),
        (-12.345, "-12.3"),
        (100.0, "100"),
        (0.1 + 0.2, "0.3"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_unknown_family_suggests_the_closest() -> None:
    with pytest.raises(InputError, match="did you mean 'ohms_law'"):
        generate("ohm_law", 3, seed=0)


def test_exclude_keeps_held_out_texts_out() -> None:
    first = generate("percentage", 5, seed=0)
    held_out = [q.question.upper() for q in first[:3]]  # compared case-insensitively
    again = generate("percentage", 5, seed=0, exclude=held_out)
    assert {q.question for q in again}.isdisjoint(q.question for q in first[:3])
    assert [q.question for q in again][:2] == [q.question for q in first[3:]]


def test_asking_more_than_a_family_holds_is_an_input_error() -> None:
    # ohms_law draws from 10 currents × 12 resistances × 3 unknowns = 360 distinct questions
    with pytest.raises(InputError, match="only 360 distinct"):
        generate("ohms_law", 361, seed=0)


def test_write_questions(tmp_path) -> None:
    out = tmp_path / "q.jsonl"
    assert write_questions(["force", "ohms_law"], 4, seed=5, out=out) == 8
    rows = [Question(**row) for row in read_jsonl(out)]
    # families take turns, so a `limit` on the file takes from each
    assert [q.metadata["family"] for q in rows] == ["force", "ohms_law"] * 4
    # a family's questions do not depend on which other families were asked for
    assert [q.model_dump() for q in rows[1::2]] == [
        q.model_dump() for q in generate("ohms_law", 4, seed=5)
    ]
    assert write_questions([], 2, seed=5, out=out) == 2 * len(ALL_FAMILIES)
    with pytest.raises(InputError, match="unknown task family 'gas_law'"):
        write_questions(["force", "gas_law"], 2, seed=5, out=tmp_path / "never.jsonl")
    assert not (tmp_path / "never.jsonl").exists()


def test_tasks_make_writes_template_families(tmp_path, capsys) -> None:
    from sciinstruct.cli.main import main
    from sciinstruct.jsonl import read_jsonl

    out = tmp_path / "ohm.jsonl"
    assert main(["tasks", "make", "ohms_law", "--n", "5", "--seed", "3", "--out", str(out)]) == 0
    rows = list(read_jsonl(out))
    assert [r["question"] for r in rows] == [q.question for q in generate("ohms_law", 5, seed=3)]
    assert "wrote 5 questions (ohms_law)" in capsys.readouterr().out


def test_tasks_make_joins_families_and_excludes_given_files(tmp_path, capsys) -> None:
    from sciinstruct.cli.main import main

    train = tmp_path / "train.jsonl"
    assert main(["tasks", "make", "force,percentage", "--n", "20", "--out", str(train)]) == 0
    heldout = tmp_path / "heldout.jsonl"
    argv = ["tasks", "make", "force,percentage", "--n", "20", "--exclude", str(train)]
    assert main([*argv, "--out", str(heldout)]) == 0
    train_rows, heldout_rows = list(read_jsonl(train)), list(read_jsonl(heldout))
    assert len(train_rows) == len(heldout_rows) == 40
    assert Counter(r["metadata"]["family"] for r in heldout_rows) == {"force": 20, "percentage": 20}
    # same seed, so without --exclude the two files would be identical; with it, disjoint
    assert not {normalise(r["question"]) for r in train_rows} & {
        normalise(r["question"]) for r in heldout_rows
    }
    capsys.readouterr()
    assert main([*argv[:-1], str(tmp_path / "missing.jsonl"), "--out", str(heldout)]) == 2
    assert "missing.jsonl: file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("family_heldout", dict.fromkeys(EASY_FAMILIES, 30)),
        ("prefix_heldout", {"metric_prefix": 60}),
    ],
)
def test_shipped_generated_heldout_sets_are_disjoint_from_the_rest(name, counts) -> None:
    from importlib.resources import files

    data = files("sciinstruct") / "data" / "questions"
    heldout = [Question(**r) for r in read_jsonl(str(data / f"{name}.jsonl"))]
    assert Counter(q.metadata["family"] for q in heldout) == counts
    for q in heldout:
        assert float(q.answer) == pytest.approx(recompute(q), rel=5e-3), q.question  # 3 s.f.
    others = {
        normalise(r["question"])
        for other in ("demo_train", "demo_heldout", "eval_set", "family_heldout", "prefix_heldout")
        if other != name
        for r in read_jsonl(str(data / f"{other}.jsonl"))
    }
    assert not others & {normalise(q.question) for q in heldout}
