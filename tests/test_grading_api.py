"""Public API: Verdict fields, grade_many, the TRL reward, external checkers, the CLI."""

from __future__ import annotations

import json
import sys
import types as pytypes
from pathlib import Path

import pytest

from sciinstruct.cli.main import main
from sciinstruct.grading import Verdict, correctness_reward, grade, grade_many


def test_verdict_fields_and_dict() -> None:
    verdict = grade("Thus \\boxed{3\\,\\mathrm{kJ}}.", "3000 J")
    expected = Verdict(True, verdict.reason, "3\\,\\mathrm{kJ}", "numeric", False, rule="boxed")
    assert verdict == expected
    assert set(verdict.to_dict()) == {
        "correct",
        "reason",
        "extracted",
        "answer_type",
        "fallback",
        "certain",
        "truncated",
        "source",
        "judge_raw",
        "judge_label",
        "rule",
    }
    assert verdict.certain and not verdict.truncated and verdict.source == "rules"
    assert verdict.data_error is False


def test_bad_reference_is_a_data_error_and_bad_prediction_is_wrong() -> None:
    bad_gold = grade("4", "\\frac{", answer_type="expression")
    assert bad_gold.correct is None and bad_gold.data_error
    assert bad_gold.reason == "reference: math-verify cannot parse it"
    bad_pred = grade("\\frac{", "4", answer_type="expression")
    assert bad_pred.correct is False
    assert grade("4", "4", answer_type="nonsense").correct is None


def test_grade_many_checks_lengths_and_keeps_order() -> None:
    with pytest.raises(ValueError, match="golds has 1 items but preds has 2"):
        grade_many(["1", "2"], ["1"])
    verdicts = grade_many(["1", "\\sqrt{8}", "B", "x"], ["1", "2\\sqrt{2}", "C", "y"], workers=2)
    assert [v.correct for v in verdicts] == [True, True, False, False]
    assert [v.answer_type for v in verdicts] == ["numeric", "expression", "choice", "expression"]


def test_grade_many_pipelines_chunks_in_order() -> None:
    # more items than one chunk: chunks are resolved on the sandbox while later ones are
    # extracted, and the verdicts still come back in the items' order
    from sciinstruct.grading import grader

    n = 3 * grader._CHUNK + 5
    preds = [f"\\sqrt{{{8 * k * k}}}" if k % 2 else f"The answer is {k + 1}." for k in range(1, n)]
    golds = [f"{2 * k}\\sqrt{{2}}" if k % 3 else f"{k}" for k in range(1, n)]
    verdicts = grade_many(preds, golds, workers=2)
    expected = [grade(p, g).correct for p, g in zip(preds, golds, strict=True)]
    assert [v.correct for v in verdicts] == expected
    assert expected.count(True) == len([k for k in range(1, n) if k % 2 and k % 3])
    assert expected.count(True) > 20


def test_choice_with_option_texts() -> None:
    options = ["Paris", "London", "Rome"]
    assert grade("I pick London.", "B", choices=options).correct is True
    assert grade("The answer is (A) Paris", "B", choices=options).correct is False


def test_reward_takes_strings_chat_messages_and_the_answer_column() -> None:
    completions = [
        [{"role": "assistant", "content": "so \\boxed{4}"}],
        [{"role": "assistant", "content": "so \\boxed{5}"}],
        "The answer is 3 kJ",
        "whatever",
    ]
    rewards = correctness_reward(
        completions,
        answer=["4", "4", "3000", "\\frac{"],
        answer_type=["numeric", "numeric", "numeric", "expression"],
        unit=[None, None, "J", None],
    )
    assert rewards == [1.0, 0.0, 1.0, None]
    assert correctness_reward(["\\boxed{B}"], ["B"]) == [1.0]
    with pytest.raises(ValueError, match="needs `references`"):
        correctness_reward(["1"])


def test_external_types_use_sciformats_checkers(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def formula(pred: str, gold: str, options: dict) -> tuple[bool, str]:
        calls.append((pred, gold, options["rtol"]))
        if gold == "???":
            raise ValueError("'???' is not a formula")
        return pred == gold, "compared"

    fake = pytypes.ModuleType("sciinstruct.sciformats.answer_checkers")
    fake.CHECKERS = {"formula": formula}
    monkeypatch.setitem(sys.modules, "sciinstruct.sciformats.answer_checkers", fake)
    assert grade("\\boxed{H2O}", "H2O", answer_type="formula").correct is True
    assert calls == [("H2O", "H2O", 0.01)]
    bad = grade("H2O", "???", answer_type="formula")
    assert bad.correct is None and bad.reason == "reference: '???' is not a formula"
    missing = grade("ATG", "ATG", answer_type="sequence")
    assert missing.correct is None and "no checker for 'sequence'" in missing.reason


def test_external_types_without_sciformats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sciinstruct.sciformats.answer_checkers", None)  # import fails
    verdict = grade("ATG", "ATG", answer_type="sequence")
    assert verdict.correct is None and "cannot be imported" in verdict.reason


def test_cli_one_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", "\\boxed{10 km}", "10000 m"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["correct"] is True and verdict["answer_type"] == "numeric"
    assert main(["grade", "0.95", "1", "--type", "numeric", "--rtol", "0.1"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True
    assert main(["grade", "1", "1", "--type", "bogus"]) == 2


def test_cli_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        '{"pred": "\\\\boxed{4}", "gold": "4", "equivalent": true}\n'
        '{"pred": "5", "gold": "4", "equivalent": true}\n'
        "not json\n"
        '{"gold": "4"}\n'
        '{"pred": "3000", "gold": "3", "unit": "kJ", "answer_type": "numeric"}\n'
        '{"pred": "B", "gold": "B", "equivalent": true}\n'
        '{"pred": "9.5", "gold": "9.81", "rtol": 0.05, "equivalent": true}\n',
        encoding="utf-8",
    )
    out = tmp_path / "verdicts.jsonl"
    assert main(["grade", "--file", str(pairs), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["correct"] for r in rows] == [True, False, False, True, True]  # per-row rtol
    assert rows[0]["extracted"] == "4" and "reason" in rows[1]
    err = capsys.readouterr().err
    assert f"{pairs}:3: not a JSON object" in err
    assert f"{pairs}:4: field 'pred' missing" in err
    assert "accuracy 75.00% on 4 labelled rows (0 false positives, 1 false negatives)" in err


def test_cli_file_errors(tmp_path: Path) -> None:
    assert main(["grade", "--file", str(tmp_path / "missing.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"x": 1}\n')
    assert main(["grade", "--file", str(empty)]) == 2


def test_grade_keeps_its_positional_signature_and_takes_metadata_by_keyword() -> None:
    # pred, gold, answer_type, unit, rtol, choices, timeout: as before
    assert grade("0.95", "1", "numeric", None, 0.1, None, 5.0).correct is True
    with pytest.raises(TypeError):
        grade("1", "1", "numeric", None, 0.01, None, 5.0, {"rtol": 0.1})  # type: ignore[misc]
    assert grade("104", "100", metadata={"rtol": 0.05}).correct is True
    assert grade("104", "100", rtol=0.01, metadata={"rtol": 0.05}).correct is False


def test_metadata_reaches_external_checkers(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def sequence(pred: str, gold: str, options: dict) -> tuple[bool, str]:
        seen.append(options)
        return pred == gold, "compared"

    fake = pytypes.ModuleType("sciinstruct.sciformats.answer_checkers")
    fake.CHECKERS = {"sequence": sequence}
    monkeypatch.setitem(sys.modules, "sciinstruct.sciformats.answer_checkers", fake)
    meta = {"sequence_kind": "protein", "rtol": 0.2, "atol": 1}
    assert grade("MKV", "MKV", answer_type="sequence", metadata=meta).correct is True
    assert seen[-1] == {
        "unit": None,
        "rtol": 0.2,
        "atol": 1.0,
        "choices": None,
        "metadata": meta,
    }
    grade("MKV", "MKV", answer_type="sequence", rtol=0.05, metadata='{"sequence_kind": "dna"}')
    assert seen[-1]["rtol"] == 0.05 and seen[-1]["metadata"] == {"sequence_kind": "dna"}


def test_real_sciformats_checker_reads_metadata() -> None:
    # GAT is DNA by its letters; the question's metadata says which alphabet it is in.
    protein = {"sequence_kind": "protein"}
    verdict = grade("\\boxed{GAT}", "GAT", answer_type="sequence", metadata=protein)
    assert verdict.correct is True and verdict.reason == "PROTEIN sequence matches (3 letters)"
    assert grade("GAT", "GAT", answer_type="sequence").reason.startswith("DNA sequence")
    rna = grade_many(["GAT"], ["GAT"], ["sequence"], metadata=[{"sequence_kind": "rna"}])[0]
    assert rna.correct is None and "T is DNA" in rna.reason  # the reference is not RNA


def test_grade_many_takes_per_row_metadata() -> None:
    verdicts = grade_many(
        ["7.3", "7.3", "7.3", "5"],
        ["7.0", "7.0", "7.0", "5"],
        metadata=[{"atol": 0.5}, None, '{"rtol": 0.05}', {"rtol": "loose"}],
    )
    assert [v.correct for v in verdicts] == [True, False, True, None]
    assert verdicts[3].reason == "reference: metadata rtol must be a number >= 0, got 'loose'"
    with pytest.raises(ValueError, match="metadata has 1 items but preds has 2"):
        grade_many(["1", "2"], ["1", "2"], metadata=[None])


def test_reward_honours_metadata_and_per_row_rtol_columns() -> None:
    completions = ["The pH is 7.3.", "The pH is 7.3.", "So the force is 6 kN.", "104"]
    references = ["7.0", "7.0", "6", "100"]
    rewards = correctness_reward(
        completions,
        references,
        unit=[None, None, "N", None],
        metadata=[{"atol": 0.5}, {}, None, None],
    )
    assert rewards == [1.0, 0.0, 0.0, 0.0]
    per_row = correctness_reward(["104", "104"], ["100", "100"], rtol=[0.05, None])
    assert per_row == [1.0, 0.0]
    assert correctness_reward(["104"], ["100"], rtol=0.05) == [1.0]


# Real outputs of SmolLM2-135M on conversion questions, which a unit-converting grader used to
# pass: each repeats the quantity the question gives, and pint converts it to the reference.
RESTATED = [
    ("Convert 230 mm to cm.", "23", "cm", "The error was an incorrect conversion of 230 mm to centimeters.", "230 mm"),
    ("Convert 8 g to mg.", "8000", "mg", "8g is 8 * 100 = 800mg.", "8 g"),
    ("Convert 21 A to mA.", "21000", "mA", "19349.00\n\nSo, the final answer is 21A.", "21 A"),
    ("Convert 16 g to mg.", "16000", "mg", "So the mass is equal to 16 g.", "16 g"),
    ("What is the energy in J of 3 kJ?", "3000", "J", "The answer is 3 kJ", "3 kJ"),
]  # fmt: skip


@pytest.mark.parametrize(("question", "answer", "unit", "pred", "given"), RESTATED)
def test_repeating_a_given_quantity_is_not_an_answer(question, answer, unit, pred, given):
    from sciinstruct.grading import grade_question
    from sciinstruct.records import Question

    q = Question(question=question, answer=answer, unit=unit, subject="physics")
    assert grade(pred, answer, unit=unit).correct  # without the question text it passes
    verdict = grade_question(pred, q)
    assert verdict.correct is False
    assert verdict.reason == (
        f"repeats the question's given quantity {given!r} instead of answering in {unit}"
    )


@pytest.mark.parametrize(
    ("pred", "correct"),
    [
        ("21 A = 21000 mA", True),  # the answer, in the asked unit
        ("\\boxed{21000 mA}", True),
        ("\\boxed{21 A}", False),  # boxed or not, it is the given quantity
        ("\\boxed{21.0 A}", False),
        ("\\boxed{21000}", True),  # a bare number is read in the asked unit
    ],
)
def test_answers_in_the_asked_unit_still_pass(pred, correct):
    from sciinstruct.grading import grade_question
    from sciinstruct.records import Question

    q = Question(question="Convert 21 A to mA.", answer="21000", unit="mA", subject="physics")
    assert grade_question(pred, q).correct is correct


def test_a_given_quantity_that_is_the_answer_in_another_unit_elsewhere_still_passes():
    from sciinstruct.grading import grade_question
    from sciinstruct.records import Question

    # 6 kg m/s is not given in the question: computed, then written in an equivalent unit
    q = Question(
        question="A 2 kg ball moves at 3 m/s. What is its momentum?",
        answer="6",
        unit="kg m/s",
        subject="physics",
    )
    assert grade_question("p = 2 kg × 3 m/s = \\boxed{6 N s}", q).correct is True


def test_reward_gives_nothing_for_a_repeated_given_when_trl_passes_the_prompts():
    prompts = [[{"role": "user", "content": "Convert 21 A to mA."}]] * 3
    completions = ["So, the final answer is 21A.", "21 A = 21000 mA", "\\boxed{21 A}"]
    kw = {"answer": ["21000"] * 3, "unit": ["mA"] * 3}
    assert correctness_reward(completions, **kw) == [1.0, 1.0, 1.0]  # no question: converted
    assert correctness_reward(completions, prompts=prompts, **kw) == [0.0, 1.0, 0.0]


# Hostile input from the reliability bench (issue 15): each must come back as a verdict within
# the call's time limit, whatever stage (extraction, in-process checks, sandbox) it stresses.
@pytest.mark.parametrize(
    ("pred", "gold", "correct", "extracted"),
    [
        ("\\boxed{" * 5000 + "1" + "}" * 5000, "1", True, "1"),  # the innermost box
        ("\\boxed{" * 1000, "1", False, None),  # never closed: no answer
        ("\\frac{1}{" * 2000 + "2" + "}" * 2000, "1/2", False, "2"),
        ("\\boxed{10^{10^{10^{10}}}}", "1", False, "10^{10^{10^{10}}}"),
        ("x \\boxed{1} and \\boxed{\\boxed{2}}", "2", True, "2"),
    ],
    ids=["boxed-5000-deep", "unclosed-boxes", "frac-2000-deep", "power-tower", "box-in-box"],
)
def test_hostile_input_gets_a_verdict(pred: str, gold: str, correct: bool, extracted) -> None:
    verdict = grade(pred, gold, timeout=1.0)
    assert verdict.correct is correct, verdict
    assert verdict.extracted == extracted
