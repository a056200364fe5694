"""Loaders read each benchmark's published format from the tiny fixtures in its layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciinstruct.benchmarks.loaders import load_benchmark
from sciinstruct.benchmarks.readers import scibench_unit, split_options
from sciinstruct.benchmarks.registry import get_spec
from sciinstruct.errors import InputError
from sciinstruct.grading.extract import find_boxed

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"


def load(name: str, **kw):
    return load_benchmark(get_spec(name), FIXTURES, **kw)


def test_gsm8k_takes_the_number_after_hashes_without_thousands_commas():
    questions = load("gsm8k")
    assert [q.answer for q in questions] == ["51", "1150", "28"]
    assert questions[0].answer_type == "numeric"
    assert questions[0].subject == "math"
    assert questions[1].solution.endswith("#### 1,150")


def test_math_reads_one_json_per_problem_and_takes_the_last_boxed():
    questions = load("math")
    assert [q.answer for q in questions] == ["\\frac{5}{6}", "4", "2"]
    assert [q.metadata["subset"] for q in questions] == ["Algebra", "Algebra", "Number Theory"]
    assert questions[0].answer_type == "expression"


def test_math500_uses_the_answer_field():
    questions = load("math500")
    assert questions[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert questions[0].metadata == {"subset": "Precalculus", "level": 2}


def test_scibench_folds_the_power_of_ten_into_the_answer_and_skips_solution_files():
    questions = load("scibench")
    assert len(questions) == 3  # atkins_sol.json repeats a problem and is skipped
    photon, molar, ball = questions
    assert (photon.answer, photon.unit, photon.subject) == ("3.97e-19", "J", "chemistry")
    assert (molar.answer, molar.unit) == ("28.0", "g mol^-1")
    assert (ball.answer, ball.unit, ball.subject) == ("19.8", "m / s", "physics")
    assert get_spec("scibench").rtol == 0.05


def test_scieval_splits_inline_options_and_maps_types():
    choice, judge, filling = load("scieval")
    assert choice.question == "Which organelle is the site of aerobic respiration?"
    assert choice.choices == ["Ribosome", "Mitochondrion", "Golgi apparatus", "Lysosome"]
    assert (choice.answer, choice.answer_type, choice.subject) == ("B", "choice", "biology")
    assert (judge.answer, judge.answer_type, judge.choices) == ("yes", "text", None)
    assert judge.question.endswith("100 degrees Celsius?")
    assert (filling.answer, filling.subject) == ("Na", "chemistry")


def test_mmlu_reads_headerless_csv_and_keeps_only_science_subsets():
    questions = load("mmlu_science")
    subsets = sorted(q.metadata["subset"] for q in questions)
    assert "marketing" not in subsets
    assert subsets == [
        "abstract_algebra",
        "college_biology",
        "college_physics",
        "college_physics",
        "high_school_chemistry",
    ]
    power = next(q for q in questions if "power" in q.question)
    assert (power.answer, power.choices[2], power.subject) == ("C", "watt", "physics")


def test_mmlu_subject_variant_includes_the_base():
    questions = load("mmlu_physics")
    assert [q.subject for q in questions] == ["physics", "physics"]


def test_gpqa_shuffles_options_reproducibly_and_points_at_the_correct_one():
    first, second = load("gpqa"), load("gpqa")
    assert [q.choices for q in first] == [q.choices for q in second]
    for q in first:
        index = "ABCD".index(q.answer)
        assert q.choices[index] in ("3P2", "kinetic energy", "helicase")
    assert [q.subject for q in first] == ["chemistry", "physics", "biology"]


def test_ceval_reads_val_files_of_science_subjects():
    questions = load("ceval_science")
    assert [(q.metadata["subset"], q.answer) for q in questions] == [
        ("college_physics", "A"),
        ("college_physics", "B"),
        ("high_school_mathematics", "B"),
    ]
    assert questions[1].choices == ["焦耳", "牛顿", "瓦特", "帕斯卡"]
    assert questions[2].subject == "math"


def test_sat_math_strips_option_letters():
    first, second = load("sat_math")
    assert first.choices == ["3", "5", "15", "25"]
    assert (first.answer, second.answer) == ("B", "C")


def test_mathusereval_keeps_the_open_reference():
    first, _ = load("mathusereval")
    assert first.id == "mathusereval-1"
    assert first.answer.startswith("f(x)=(x-2)^2-1")
    assert first.metadata["subset"] == "calculate"
    assert get_spec("mathusereval").mode == "judged"


def test_question_file_is_an_ad_hoc_benchmark_and_limit_applies():
    spec = get_spec(str(FIXTURES / "questions" / "mini.jsonl"))
    questions = load_benchmark(spec, limit=2)
    assert spec.name == "mini"
    assert [(q.id, q.unit) for q in questions] == [("q1", None), ("q2", "m/s")]


def test_missing_data_says_where_to_get_it_and_where_to_put_it(tmp_path):
    with pytest.raises(InputError) as info:
        load_benchmark(get_spec("gsm8k"), tmp_path)
    message = str(info.value)
    assert str(tmp_path / "gsm8k" / "test.jsonl") in message
    assert "github.com/openai/grade-school-math" in message
    assert "openai/gsm8k" in message and "--data-dir" in message and "SCIINSTRUCT_DATA" in message


def test_data_dir_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SCIINSTRUCT_DATA", str(FIXTURES))
    assert len(load_benchmark(get_spec("gsm8k"))) == 3


def test_a_bad_row_is_located(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text(
        '{"question": "q", "answer": "#### 1"}\n{"question": "q2", "answer": "no marker"}\n'
    )
    with pytest.raises(InputError) as info:
        load_benchmark(get_spec("gsm8k"), tmp_path)
    assert info.value.line == 2 and info.value.field == "answer"


def test_a_saved_hugging_face_dataset_is_read_with_load_from_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {"question": ["How many legs has a spider?"], "answer": ["Count them.\n#### 8"]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)}).save_to_disk(
        str(tmp_path / "hf" / "openai__gsm8k")
    )
    (question,) = load_benchmark(get_spec("gsm8k"), tmp_path)
    assert question.answer == "8"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so $x = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("\\fbox{7}", "7"),
        ("no box", None),
    ],
)
def test_last_boxed(text, expected):
    assert find_boxed(text) == expected  # the grader's extractor reads MATH references


def test_scibench_unit_cleanup():
    assert scibench_unit(" $\\mathrm{~kJ} \\mathrm{~mol}^{-1}$") == ("kJ mol^-1", 0)
    assert scibench_unit("$10^{-19} \\mathrm{~J}$") == ("J", -19)
    assert scibench_unit(" ") == (None, 0)


def test_split_options_needs_consecutive_letters():
    assert split_options("Q?\nA. x\nB. y\nAnswer:") == ("Q?", ["x", "y"])
    assert split_options("Q?\nB. y\nC. z") == ("Q?\nB. y\nC. z", [])
