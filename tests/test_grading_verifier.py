"""The cascade: rules first, an LLM judge for what they cannot decide.

A scripted judge (the fake backend of the eval tests) stands in where a test needs a judge that
says exactly CORRECT or INCORRECT; one slow test runs the embedded model as the judge, end to
end, only to show the real backend runs and its raw reply is kept (a 135M model's verdicts are
not the point).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciinstruct.cli.main import main
from sciinstruct.grading import grade, grade_many
from sciinstruct.grading.verifier import Verifier, make_verifier
from scripted import ScriptedBackend


def _judge(reply: str) -> tuple[Verifier, ScriptedBackend]:
    backend = ScriptedBackend(lambda prompt, seed: reply)
    return Verifier(backend), backend


def test_rules_decide_first_and_the_judge_is_not_asked() -> None:
    judge, backend = _judge("Verdict: INCORRECT")
    verdict = grade("so \\boxed{42}", "42", judge=judge)
    assert verdict.correct is True and verdict.source == "rules"
    assert backend.requests == []


def test_judge_decides_what_the_rules_cannot_and_its_reply_is_recorded() -> None:
    reply = "Both name the capital of France.\nVerdict: CORRECT"
    judge, backend = _judge(reply)
    verdict = grade(
        "The city is Paris, the capital of France, on the Seine.",
        "Paris",
        answer_type="text",
        question="Which city is the capital of France?",
        judge=judge,
    )
    assert verdict.correct is True and verdict.source == "judge"
    assert verdict.judge_raw == reply
    assert verdict.reason.startswith("judge scripted:scripted-model: correct (rules: text differs")
    prompt = backend.requests[0].messages_list()[-1]["content"]
    assert "Which city is the capital of France?" in prompt and "Paris" in prompt
    assert backend.requests[0].params.temperature == 0.0


def test_judge_saying_incorrect_and_a_judge_that_gives_no_verdict() -> None:
    judge, _ = _judge("The response names another city.\nVerdict: INCORRECT")
    wrong = grade("It is Lyon, I think.", "Paris", answer_type="text", judge=judge)
    assert wrong.correct is False and wrong.source == "judge"
    mute, _ = _judge("I am not sure.")
    kept = grade("It is Lyon, I think.", "Paris", answer_type="text", judge=mute)
    assert kept.correct is False and kept.source == "rules"
    assert kept.judge_raw == "I am not sure." and "gave no CORRECT/INCORRECT" in kept.reason


def test_proof_goes_to_the_judge_or_is_ungradable_with_a_reason() -> None:
    proof = "Assume sqrt 2 = p/q in lowest terms; then p^2 = 2q^2, so p is even ... contradiction."
    alone = grade(proof, "sqrt 2 is irrational", answer_type="proof")
    assert alone.correct is None and "configure a judge" in alone.reason
    judge, backend = _judge("A complete proof by contradiction.\nVerdict: CORRECT")
    judged = grade(proof, "sqrt 2 is irrational", answer_type="proof", judge=judge)
    assert judged.correct is True and judged.source == "judge" and len(backend.requests) == 1


def test_truncated_response_is_never_credited_by_its_last_number_nor_judged() -> None:
    judge, backend = _judge("Verdict: CORRECT")
    text = "Step 1: 3 + 4 = 7.\nStep 2: 7 * 6 = 42.\nStep 3: now we divide 42 by"
    cut = grade(text, "42", finish_reason="length", judge=judge)
    assert cut.correct is False and cut.truncated and "token limit" in cut.reason
    assert backend.requests == []
    stated = grade(text + " 1, so the answer is \\boxed{42}", "42", finish_reason="length")
    assert stated.correct is True and stated.truncated
    finished = grade(text, "6", finish_reason="stop")
    assert not finished.truncated


def test_grade_many_asks_the_judge_once_for_all_undecided_pairs() -> None:
    judge, backend = _judge("Verdict: CORRECT")
    verdicts = grade_many(
        ["\\boxed{7}", "It is Paris, of course.", "no idea, sorry", "\\boxed{8}"],
        ["7", "Paris", "4", "9"],
        answer_types=["numeric", "text", "numeric", "numeric"],
        judge=judge,
        workers=1,
    )
    assert [v.source for v in verdicts] == ["rules", "judge", "judge", "rules"]
    assert [v.correct for v in verdicts] == [True, True, True, False]
    assert len(backend.requests) == 2


def test_make_judge_needs_an_option_and_checks_base_url(tmp_path: Path) -> None:
    from sciinstruct.errors import InputError

    assert make_verifier(None) is None
    with pytest.raises(InputError, match="--judge-base-url applies to the openai backend"):
        make_verifier("embedded", base_url="http://127.0.0.1:1/v1")


def test_cli_grade_with_question_and_finish_reason(capsys: pytest.CaptureFixture[str]) -> None:
    main(
        [
            "grade",
            "The error was 230 mm.",
            "23",
            "--unit",
            "cm",
            "--question",
            "Convert 230 mm to cm.",
        ]
    )
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["correct"] is False and "repeats the question's given" in verdict["reason"]


def test_cli_grade_file_reads_question_and_finish_reason(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    rows = [
        {"pred": "so 7 * 6 = 42 and then", "gold": "42", "finish_reason": "length"},
        {
            "pred": "The error was 230 mm.",
            "gold": "23",
            "unit": "cm",
            "question": "Convert 230 mm to cm.",
        },
        {"pred": "\\boxed{23 cm}", "gold": "23", "unit": "cm", "question": "Convert 230 mm to cm."},
    ]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "verdicts.jsonl"
    main(["grade", "--file", str(pairs), "--out", str(out)])
    graded = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [g["correct"] for g in graded] == [False, False, True]
    assert graded[0]["truncated"] is True


@pytest.mark.slow
def test_embedded_model_as_judge_runs_end_to_end(tmp_path: Path) -> None:
    # The transformers engine: llama-cpp-python's build crashes (SIGSEGV in decode) on some
    # CPUs, and this test is about the cascade, not the engine. 48 tokens: a line or two.
    judge = make_verifier(
        "embedded", cache=tmp_path / "cache.sqlite", max_tokens=48, engine="transformers"
    )
    assert judge is not None
    try:
        verdict = grade(
            "The capital is Paris, a city on the Seine.",
            "Paris",
            answer_type="text",
            question="What is the capital of France?",
            judge=judge,
        )
    finally:
        judge.backend.close()
    assert verdict.judge_raw  # the model's own words, whatever it decided
    assert (tmp_path / "cache.sqlite").exists()  # behind the response cache
    assert verdict.source in ("judge", "rules")
    if verdict.source == "judge":
        assert verdict.correct in (True, False) and verdict.reason.startswith(f"judge {judge.name}")
    else:
        assert "gave no CORRECT/INCORRECT" in verdict.reason


def test_eval_counts_judge_decided_and_truncated_answers(tmp_path: Path) -> None:
    from sciinstruct.evaluate.runner import EvalConfig, run_eval

    mini = str(Path(__file__).parent / "fixtures" / "benchmarks" / "questions" / "mini.jsonl")
    answers = {
        "6 times 7": "It is forty-two, I believe",  # no number: the rules cannot read it
        "100 m in 20 s": "\\boxed{5}",
        "photosynthesis": "\\boxed{B}",
        "2 + 2": "2 + 2 makes 4, and then we add",  # cut off: its last number is not credited;
        # finished, it is a last-number fallback, which the judge decides
    }
    generator = ScriptedBackend(  # every completion cut off by the token limit
        lambda text, seed: next(a for k, a in answers.items() if k in text), finish_reason="length"
    )
    asked = ScriptedBackend(
        lambda prompt, seed: "Verdict: CORRECT" if "forty-two" in prompt else "Verdict: INCORRECT"
    )
    judge = Verifier(asked)
    results = run_eval([mini], generator, tmp_path, EvalConfig(), grade_judge=judge)
    summary = results["benchmarks"]["mini"]
    assert summary["truncated"] == 4 and summary["judge_decided"] == 0
    assert summary["correct"] == 2  # the boxed answers only: a truncated text is never judged
    assert asked.requests == []

    generator = ScriptedBackend(lambda text, seed: next(a for k, a in answers.items() if k in text))
    results = run_eval([mini], generator, tmp_path / "again", EvalConfig(), grade_judge=judge)
    summary = results["benchmarks"]["mini"]
    assert summary["judge_decided"] == 2 and summary["truncated"] == 0
    assert summary["correct"] == 3 and len(asked.requests) == 2
    assert results["grade_judge"] == "scripted:scripted-model"
    rows = [json.loads(line) for line in (tmp_path / "again" / "predictions.jsonl").open()]
    judged = next(r for r in rows if r["question_id"] == "q1")
    assert judged["graded_by"] == "judge" and judged["correct"] is True
    assert judged["judge_raw"] == "Verdict: CORRECT"
    assert "judge decided" in (tmp_path / "again" / "summary.md").read_text()


def test_annotate_asks_the_judge_for_an_answer_the_rules_cannot_read(tmp_path: Path) -> None:
    from sciinstruct.annotate import AnnotateConfig, StagePlan, annotate
    from sciinstruct.jsonl import read_jsonl
    from sciinstruct.records import Attempt, Question
    from sciinstruct.rundir import RunDir

    question = Question(id="q", question="What is 40 + 2?", answer="42", subject="math")
    # (the rules read "is forty-two" now; "four tens and two" is beyond them)
    model = ScriptedBackend(lambda prompt, seed: "Adding them gives four tens and two.")
    asked = ScriptedBackend(
        lambda prompt, seed: "Verdict: CORRECT" if "four tens" in prompt else "Verdict: INCORRECT"
    )
    run = RunDir(tmp_path / "run")
    config = AnnotateConfig(plan=StagePlan(samples=1, max_tokens=32, seed=1), batch_size=1)
    funnel = annotate([question], run, model, config.prompts(), config, judge=Verifier(asked))
    (attempt,) = [Attempt.model_validate(row) for row in read_jsonl(run.attempts)]
    assert attempt.stage == "cot" and attempt.correct is True  # no number: the judge decided
    assert attempt.metadata["graded_by"] == "judge"
    assert attempt.metadata["judge_raw"] == "Verdict: CORRECT"
    assert funnel.to_stats()["solved"]["cot"] == 1 and len(asked.requests) == 1


def test_a_recipe_judge_section_reaches_annotate_and_eval(tmp_path: Path) -> None:
    from sciinstruct.errors import InputError
    from sciinstruct.grading.verifier import JudgeSpec
    from sciinstruct.recipe import load_recipe

    path = tmp_path / "recipe.yaml"
    path.write_text(
        "annotate:\n  judge:\n    backend: embedded\n    model: SmolLM2-135M-Instruct\n"
        "eval:\n  config:\n    judge:\n      backend: openai\n"
        "      base_url: http://127.0.0.1:8000/v1\n"
    )
    recipe = load_recipe(path)
    assert recipe.annotate.judge == JudgeSpec("embedded", "SmolLM2-135M-Instruct")
    assert recipe.eval.config.judge == JudgeSpec("openai", None, "http://127.0.0.1:8000/v1")
    assert load_recipe(path, {"annotate.judge.model": "other"}).annotate.judge.model == "other"
    bad = tmp_path / "bad.yaml"
    bad.write_text("annotate:\n  judge:\n    backnd: embedded\n")
    with pytest.raises(InputError, match=r"backnd") as caught:
        load_recipe(bad)
    assert "bad.yaml" in str(caught.value)
    plain = tmp_path / "plain.yaml"
    plain.write_text("limit: 2\n")
    assert load_recipe(plain).annotate.judge.build() is None  # no section: no judge
