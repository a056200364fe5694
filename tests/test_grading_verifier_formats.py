"""The verifier formats: CompassVerifier's A/B/C, xVerify's [Correct]/[Incorrect], our own.

Each reader is checked on a table of replies, well-formed and malformed, written the way these
models answer (a bare letter, a CoT analysis ending `Final Judgment: \\boxed{C} - INCOMPLETE`, a
reasoning model's `<think>` block, an echo of the instructions). A scripted verifier then stands
in for the model where a test needs an exact reply; a loopback OpenAI-compatible server carries
the CLI's `--judge-format`; one slow test runs the embedded model in CompassVerifier's format to
show a real generation goes through and its reply, whatever it is, is kept and labelled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fault_server import run_fault_server
from sciinstruct.cli.main import main
from sciinstruct.errors import InputError
from sciinstruct.grading import grade, grade_many
from sciinstruct.grading.verifier import JudgeSpec, Verifier, make_verifier
from sciinstruct.grading.verifier_formats import (
    FORMAT_NAMES,
    Decision,
    parse_compassverifier,
    parse_sciinstruct,
    parse_xverify,
)
from scripted import ScriptedBackend

COMPASS_REPLIES = [
    # the direct prompt's answers
    ("A", "correct", None),
    ("B", "incorrect", None),
    ("C", "invalid", None),
    (" B\n", "incorrect", None),
    ("(A)", "correct", None),
    ("A: CORRECT", "correct", None),
    ("C: INVALID", "invalid", None),
    ("INCORRECT", "incorrect", None),
    ("Correct", "correct", None),
    # the CoT prompt's final line, with the kind of an invalid response
    (
        "Analysis step by step: ... matches.\n\nFinal Judgment: \\boxed{A} - CORRECT",
        "correct",
        None,
    ),
    (
        "... it is cut off at step 15.\nFinal Judgment: \\boxed{C} - INCOMPLETE",
        "invalid",
        "incomplete",
    ),
    ("Final Judgment: \\boxed{C} - REPETITIVE", "invalid", "repetitive"),
    ("Final Judgment: \\boxed{ C }", "invalid", None),
    ("Final Judgment: B - INCORRECT", "incorrect", None),
    ("The answers agree. Final Judgement: A", "correct", None),
    ("long analysis " * 5 + "final judgment: invalid, it is a refusal", "invalid", "refusal"),
    ("first \\boxed{A}, on reflection \\boxed{B}", "incorrect", None),  # the last box
    ("<think>It could be C, but the answer is complete.</think>A", "correct", None),
    # malformed: nothing to read, two grades, a grade only inside prose, the template echoed
    ("", "unparseable", None),
    ("I cannot tell.", "unparseable", None),
    ("A or B", "unparseable", None),
    ("A: INCORRECT", "unparseable", None),  # letter and word disagree
    ("The candidate is not correct", "unparseable", None),
    (
        "Because the candidate writes 7 where the standard answer has 8, we choose B.",
        "unparseable",
        None,
    ),
    ("Final Judgment: \\boxed{A/B/C} - <CORRECT/INCORRECT>", "unparseable", None),
    ("\\boxed{D}", "unparseable", None),
]


@pytest.mark.parametrize(("raw", "label", "detail"), COMPASS_REPLIES)
def test_compassverifier_replies(raw: str, label: str, detail: str | None) -> None:
    assert parse_compassverifier(raw) == Decision(label, detail)  # type: ignore[arg-type]


XVERIFY_REPLIES = [
    ("Correct", "correct"),
    ("Incorrect", "incorrect"),
    ("[Correct]", "correct"),
    ("[Incorrect].", "incorrect"),
    ("  incorrect\n", "incorrect"),
    ('"Correct"', "correct"),
    ("Correct. The output names option B, as the correct answer does.", "correct"),
    ("The output gives 12, not 13. [Incorrect]", "incorrect"),
    ("<think>The values match.</think>\nCorrect", "correct"),
    # malformed
    ("", "unparseable"),
    ("[Correct] or [Incorrect]", "unparseable"),
    ("Correct or incorrect, hard to say.", "unparseable"),
    ("The output is wrong.", "unparseable"),
    ("Judgement: the output is right", "unparseable"),
]


@pytest.mark.parametrize(("raw", "label"), XVERIFY_REPLIES)
def test_xverify_replies(raw: str, label: str) -> None:
    assert parse_xverify(raw) == Decision(label)  # type: ignore[arg-type]


def test_sciinstruct_replies_read_the_last_verdict_word() -> None:
    assert parse_sciinstruct("It is right.\nVerdict: CORRECT").label == "correct"
    assert parse_sciinstruct("Correct at first, but\nVerdict: INCORRECT").label == "incorrect"
    assert parse_sciinstruct("No idea.").label == "unparseable"


def _verifier(fmt: str, reply: str) -> tuple[Verifier, ScriptedBackend]:
    backend = ScriptedBackend(lambda prompt, seed: reply)
    return Verifier(backend, format=fmt), backend


def test_compassverifier_prompt_carries_its_markers_and_the_pair() -> None:
    verifier, backend = _verifier("compassverifier", "A")
    grade(
        "Paris, the capital, on the Seine.",
        "Paris",
        answer_type="text",
        question="Which city is the capital of France?",
        judge=verifier,
    )
    (request,) = backend.requests
    prompt = request.messages_list()[-1]["content"]
    assert len(request.messages_list()) == 1  # one user message, as the model was trained
    question = prompt.index("<Original Question Begin>:\nWhich city is the capital of France?")
    answer = prompt.index("<Standard Answer Begin>:\nParis\n<Standard Answer End>")
    response = prompt.index("<Candidate's Answer Begin>:\nParis, the capital, on the Seine.")
    assert question < answer < response
    assert "{" not in prompt.replace("\\boxed{}", "")  # every placeholder filled
    assert request.params.max_tokens == 32 and request.params.temperature == 0.0


def test_xverify_prompt_quotes_question_and_output() -> None:
    verifier, backend = _verifier("xverify", "Correct")
    grade(
        "It is Paris.", "Paris", answer_type="text", question="Capital of France?", judge=verifier
    )
    prompt = backend.requests[0].messages_list()[-1]["content"]
    assert 'Question: """Capital of France?"""' in prompt
    assert 'Output sentence: """It is Paris."""' in prompt
    assert prompt.rstrip().endswith("Correct answer: Paris\n\nJudgement:")


def test_invalid_is_wrong_but_labelled_apart_and_says_its_kind() -> None:
    verifier, _ = _verifier("compassverifier-cot", "Final Judgment: \\boxed{C} - REPETITIVE")
    looping = "the the the the the the the the the the the"
    verdict = grade(looping, "Paris", answer_type="text", judge=verifier)
    assert verdict.correct is False and verdict.source == "judge"
    assert verdict.judge_label == "invalid"
    assert verdict.reason.startswith("judge scripted:scripted-model: invalid (repetitive) (rules:")
    assert verdict.judge_raw == "Final Judgment: \\boxed{C} - REPETITIVE"


def test_unparseable_reply_keeps_the_rules_verdict_and_the_raw_text() -> None:
    for fmt, expects in (("compassverifier", "A/B/C"), ("xverify", "[Correct]/[Incorrect]")):
        verifier, _ = _verifier(fmt, "Let me think about this step by step.")
        kept = grade("It is Lyon, I think.", "Paris", answer_type="text", judge=verifier)
        assert kept.correct is False and kept.source == "rules" and not kept.certain
        assert kept.judge_label == "unparseable"
        assert kept.judge_raw == "Let me think about this step by step."
        assert kept.reason.endswith(f"judge scripted:scripted-model gave no {expects} verdict")


def test_a_failed_backend_is_labelled_error() -> None:
    backend = ScriptedBackend(lambda prompt, seed: None, error="HTTP 503")
    verdict = grade("It is Lyon.", "Paris", answer_type="text", judge=Verifier(backend))
    assert verdict.judge_label == "error" and verdict.source == "rules"
    assert "failed: HTTP 503" in verdict.reason


def test_grade_many_sends_only_the_undecided_pairs_to_compassverifier() -> None:
    replies = {"tens and two": "A", "tens and three": "B", "repeat": "C"}
    backend = ScriptedBackend(
        lambda prompt, seed: next(v for k, v in replies.items() if k in prompt)
    )
    preds = [
        "\\boxed{42}",
        "It is four tens and two.",
        "It is four tens and three.",
        "repeat repeat",
        "\\boxed{7}",
    ]
    verdicts = grade_many(
        preds, ["42"] * 5, workers=1, judge=Verifier(backend, format="compassverifier")
    )
    assert [v.judge_label for v in verdicts] == [None, "correct", "incorrect", "invalid", None]
    assert [v.correct for v in verdicts] == [True, True, False, False, False]
    assert len(backend.requests) == 3  # the rules decided the boxed answers alone


def test_a_prompt_folder_replaces_the_formats_prompt(tmp_path: Path) -> None:
    (tmp_path / "xverify.md").write_text("Q: {question}\nO: {attempt}\nA: {answer}\n")
    backend = ScriptedBackend(lambda prompt, seed: "Correct")
    verifier = Verifier(backend, format="xverify", prompt_dir=tmp_path)
    grade("It is Paris.", "Paris", answer_type="text", question="Capital?", judge=verifier)
    assert (
        backend.requests[0].messages_list()[-1]["content"]
        == "Q: Capital?\nO: It is Paris.\nA: Paris"
    )
    (tmp_path / "compassverifier.md").write_text("{question} {attempt}\n")  # no reference
    with pytest.raises(InputError, match=r"must contain \{answer\} or \{reference\}"):
        Verifier(backend, format="compassverifier", prompt_dir=tmp_path)


def test_format_is_a_judge_option_checked_by_name() -> None:
    assert FORMAT_NAMES == ("sciinstruct", "compassverifier", "compassverifier-cot", "xverify")
    assert JudgeSpec().format == "sciinstruct"
    assert (
        JudgeSpec("openai", None, ("http://h/v1",), format="xverify")
        .verifier(ScriptedBackend(lambda p, s: ""))
        .format.name
        == "xverify"
    )
    with pytest.raises(InputError, match="format"):
        JudgeSpec(format="compass")
    with pytest.raises(InputError, match="format must be one of sciinstruct, compassverifier"):
        make_verifier("embedded", format="compass")


def test_cli_grade_asks_an_openai_compatible_verifier_in_its_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    asked: list[str] = []

    def answer(request: dict) -> str:
        asked.append(request["messages"][-1]["content"])
        return "Final Judgment: \\boxed{C} - INCOMPLETE"

    with run_fault_server(answer=answer) as server:
        main(
            [
                "grade",
                "Let me work it out: first 3 times 14 is",
                "42",
                "--judge-backend",
                "openai",
                "--judge-model",
                "opencompass/CompassVerifier-3B",
                "--judge-base-url",
                server.url("ok", 0, "verifier"),
                "--judge-format",
                "compassverifier-cot",
            ]
        )
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["judge_label"] == "invalid" and verdict["correct"] is False
    assert verdict["source"] == "judge" and verdict["judge_raw"].endswith("INCOMPLETE")
    (prompt,) = asked
    assert "Final Judgment:" in prompt and "first 3 times 14 is" in prompt


def test_eval_counts_invalid_apart_from_incorrect(tmp_path: Path) -> None:
    from sciinstruct.evaluate.runner import EvalConfig, run_eval

    mini = str(Path(__file__).parent / "fixtures" / "benchmarks" / "questions" / "mini.jsonl")
    answers = {  # the first two the rules cannot read, so the verifier is asked
        "6 times 7": "It is forty-two, I believe",
        "100 m in 20 s": "speed speed speed speed",
        "photosynthesis": "\\boxed{B}",
        "2 + 2": "\\boxed{4}",
    }
    generator = ScriptedBackend(lambda text, seed: next(a for k, a in answers.items() if k in text))
    verifier = Verifier(
        ScriptedBackend(lambda prompt, seed: "A" if "forty-two" in prompt else "C"),
        format="compassverifier",
    )
    results = run_eval([mini], generator, tmp_path, EvalConfig(), grade_judge=verifier)
    summary = results["benchmarks"]["mini"]
    assert summary["judge_decided"] == 2 and summary["invalid"] == 1
    assert summary["correct"] == 3 and summary["n"] == 4 and summary["judge_unparseable"] == 0
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").open()]
    assert sorted(r.get("judge_label", "-") for r in rows) == ["-", "-", "correct", "invalid"]
    assert "1 invalid" in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
def test_embedded_model_speaks_compassverifier_format_end_to_end(tmp_path: Path) -> None:
    # A real generation: the 135M model is no verifier, so only the pipeline is asserted: the
    # request goes through the real engine and cache, the raw reply is kept, and the label is
    # one of the legal values, "unparseable" included. The transformers engine, as in
    # test_grading_verifier (llama-cpp-python's build crashes on some CPUs).
    verifier = make_verifier(
        "embedded",
        cache=tmp_path / "cache.sqlite",
        engine="transformers",
        format="compassverifier",
    )
    assert verifier is not None and verifier.max_tokens == 32
    try:
        verdicts = grade_many(
            ["The capital is Paris, a city on the Seine.", "the the the the the the"],
            ["Paris", "Paris"],
            answer_types=["text", "text"],
            questions=["What is the capital of France?"] * 2,
            workers=1,
            judge=verifier,
        )
    finally:
        verifier.backend.close()
    assert (tmp_path / "cache.sqlite").exists()
    for verdict in verdicts:
        assert isinstance(verdict.judge_raw, str)  # the model's own words, kept
        assert verdict.judge_label in ("correct", "incorrect", "invalid", "unparseable")
        if verdict.judge_label == "unparseable":
            assert verdict.source == "rules" and "gave no A/B/C verdict" in verdict.reason
        else:
            assert verdict.source == "judge"
            assert verdict.correct is (verdict.judge_label == "correct")
            assert verdict.judge_label in verdict.reason
