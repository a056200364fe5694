"""The evaluation runner end to end with a scripted backend, and once with the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sciinstruct.cli.main import main
from sciinstruct.evaluate.runner import EvalConfig, run_eval
from sciinstruct.jsonl import read_jsonl
from scripted import ScriptedBackend

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"
MINI = str(FIXTURES / "questions" / "mini.jsonl")

# mini.jsonl: q1 6*7=42 (math), q2 5 m/s (physics), q3 choice B (biology), q4 2+2=4 (math)
ANSWERS = {
    "6 times 7": "\\boxed{42}",
    "100 m in 20 s": "The speed is \\boxed{5} m/s",
    "photosynthesis": "\\boxed{B}",
    "2 + 2": "\\boxed{5}",
}


def reply_by_question(text: str, seed: int) -> str | None:
    return next(answer for key, answer in ANSWERS.items() if key in text)


def test_accuracy_per_benchmark_and_subject(tmp_path):
    backend = ScriptedBackend(reply_by_question)
    results = run_eval([MINI], backend, tmp_path, EvalConfig())
    mini = results["benchmarks"]["mini"]
    assert (mini["correct"], mini["n"], mini["accuracy"]) == (3, 4, 0.75)
    assert mini["ci_low"] == pytest.approx(0.3006, abs=1e-3)  # Wilson, 3 of 4
    assert mini["subjects"]["math"]["accuracy"] == 0.5
    assert mini["subjects"]["physics"]["accuracy"] == 1.0
    assert results["accuracy"] == 0.75 and results["overall"]["n"] == 4
    assert (results["model"], results["backend"]) == ("scripted-model", "scripted")

    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["benchmarks"]["mini"]["accuracy"] == 0.75
    rows = list(read_jsonl(tmp_path / "predictions.jsonl"))
    assert len(rows) == 4
    wrong = next(r for r in rows if r["question_id"] == "q4")
    assert (wrong["extracted"], wrong["correct"], wrong["gold"]) == ("5", False, "4")
    assert wrong["messages"][-1]["content"].startswith("What is 2 + 2?")
    assert "| mini | accuracy % | 75.0 |" in (tmp_path / "summary.md").read_text()


def test_choices_are_rendered_and_zero_shot_is_greedy(tmp_path):
    backend = ScriptedBackend(reply_by_question)
    run_eval([MINI], backend, tmp_path, EvalConfig(limit=3))
    prompt = backend.requests[2].messages_list()[-1]["content"]
    assert "\nA. oxygen\nB. carbon dioxide\n" in prompt
    assert {r.params.temperature for r in backend.requests} == {0.0}
    assert len(backend.requests) == 3


def test_few_shot_prompts_put_examples_before_the_question(tmp_path):
    backend = ScriptedBackend(lambda text, seed: "\\boxed{51}")
    run_eval(["gsm8k"], backend, tmp_path, EvalConfig(limit=1, shots=2), data_dir=FIXTURES)
    messages = backend.requests[0].messages_list()
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"].endswith("\\boxed{30}")
    assert messages[-1]["content"].startswith("A farmer has 12 cows")


def test_k_samples_vote_and_report_pass_at_k(tmp_path):
    # q1 right on seeds 0, 1 only; q2 right on seed 3 only; the rest always wrong.
    def reply(text: str, seed: int) -> str:
        if "6 times 7" in text:
            return "\\boxed{42}" if seed in (0, 1) else f"\\boxed{{{50 + seed}}}"
        if "100 m in 20 s" in text:
            return "\\boxed{5} m/s" if seed == 3 else "\\boxed{9} m/s"
        return "\\boxed{0}"

    results = run_eval([MINI], ScriptedBackend(reply), tmp_path, EvalConfig(samples=4))
    mini = results["benchmarks"]["mini"]
    assert mini["metric"] == "majority_vote_accuracy"
    # q1: 42 twice, 42 wins the vote; q2: 9 three times, wrong; q3, q4 wrong
    assert (mini["correct"], mini["n"]) == (1, 4)
    # pass@1 = mean c/n = (2/4 + 1/4) / 4; pass@4 = (1 + 1) / 4
    assert mini["pass_at_k"]["1"] == pytest.approx(0.1875)
    assert mini["pass_at_k"]["2"] == pytest.approx((1 - 1 / 6 + 0.5) / 4)
    assert mini["pass_at_k"]["4"] == pytest.approx(0.5)
    seeds = sorted({json.loads(line)["sample"] for line in (tmp_path / "predictions.jsonl").open()})
    assert seeds == [0, 1, 2, 3]


def test_failed_generations_count_as_wrong_and_are_reported(tmp_path):
    backend = ScriptedBackend(
        lambda text, seed: None if "2 + 2" in text else reply_by_question(text, seed)
    )
    mini = run_eval([MINI], backend, tmp_path, EvalConfig())["benchmarks"]["mini"]
    assert (mini["correct"], mini["n"], mini["generation_errors"]) == (3, 4, 1)


def test_two_benchmarks_give_a_micro_averaged_overall(tmp_path):
    backend = ScriptedBackend(
        lambda text, seed: "\\boxed{51}" if "farmer" in text else "\\boxed{0}"
    )
    results = run_eval(["gsm8k", MINI], backend, tmp_path, EvalConfig(), data_dir=FIXTURES)
    assert results["benchmarks"]["gsm8k"]["accuracy"] == pytest.approx(1 / 3)
    assert results["overall"]["correct"] == 1 and results["overall"]["n"] == 7


def test_cli_reports_missing_data_with_exit_code_2(tmp_path, capsys):
    code = main(
        ["eval", "--benchmark", "gpqa", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path)]
    )
    assert code == 2
    assert "github.com/idavidrein/gpqa" in capsys.readouterr().err


def test_cli_typo_in_benchmark_name(tmp_path, capsys):
    code = main(["eval", "--benchmark", "gsm8", "--out", str(tmp_path)])
    assert code == 2
    assert "did you mean 'gsm8k'" in capsys.readouterr().err


def test_cli_lists_benchmarks(capsys):
    assert main(["eval", "--list", "--data-dir", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    assert "mmlu_physics" in out and "mathusereval" in out


@pytest.mark.slow
def test_embedded_model_on_the_shipped_eval_set(tmp_path):
    """The real embedded model through the CLI on the first questions of the shipped set. The
    numbers depend on a 135M model, so only the structure is asserted, and that every prediction
    was graded by the real grader; a second run is answered from the response cache."""
    argv = ["--quiet", "eval", "--benchmark", "sciinstruct_eval", "--out", str(tmp_path),
            "--limit", "2", "--max-tokens", "48"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    bench = results["benchmarks"]["sciinstruct_eval"]
    assert bench["n"] + bench["ungradable"] == 2 and 0.0 <= bench["accuracy"] <= 1.0
    rows = list(read_jsonl(tmp_path / "predictions.jsonl"))
    assert len(rows) == 2 and all(r["response"] and r["reason"] for r in rows)
    assert not any(r["usage"]["cached"] for r in rows)
    assert main(argv) == 0
    assert all(r["usage"]["cached"] for r in read_jsonl(tmp_path / "predictions.jsonl"))


def test_template_override_asks_as_the_training_samples_do(tmp_path):
    backend = ScriptedBackend(reply_by_question)
    results = run_eval([MINI], backend, tmp_path, EvalConfig(template="{question}{choices}"))
    prompts = [r.messages_list()[-1]["content"] for r in backend.requests]
    assert "What is 6 times 7?" in prompts  # the bare question, as in an exported SFT row
    assert not any("step by step" in p for p in prompts)
    assert results["config"]["template"] == "{question}{choices}"
    with pytest.raises(ValueError, match="must contain"):
        EvalConfig(template="Answer:")
