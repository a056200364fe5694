"""Judged evaluation (MathUserEval style): scores parsed robustly, unparseable ones reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from sciinstruct.evaluate.judged_mode import parse_score
from sciinstruct.evaluate.runner import EvalConfig, run_eval
from scripted import ScriptedBackend

FIXTURES = Path(__file__).parent / "fixtures" / "benchmarks"


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("The answer matches the reference.\nScore: 8", 8),
        ('{"explanation": "fine", "score": 6}', 6),
        ("Examples: Score: 2 is bad. My verdict... Score: 9", 9),  # the last one wins
        (
            "事实正确性 9 分 ... {'事实正确性': 9, '满足用户需求': 6, '综合得分': 7}",
            7,
        ),  # ChatGLM-Math
        ("Rating: [[4]]", 4),
        ("Score: 15", None),  # out of range: unparseable, not clipped
        ("I cannot judge this.", None),
    ],
)
def test_parse_score(text, score):
    assert parse_score(text) == score


def test_judged_run_averages_parseable_scores_and_reports_the_rest(tmp_path):
    model = ScriptedBackend(lambda text, seed: f"My answer to: {text[:20]}", model="student")

    def judge_reply(prompt: str, seed: int) -> str:
        # the judge sees the reference; question 1 scores 8, question 2 has no score
        return "Close to the reference. Score: 8" if "最小值" in prompt else "Hard to say."

    judge = ScriptedBackend(judge_reply, model="teacher")
    results = run_eval(
        ["mathusereval"], model, tmp_path, EvalConfig(), data_dir=FIXTURES, judge=judge
    )
    bench = results["benchmarks"]["mathusereval"]
    assert bench["accuracy"] is None and bench["metric"] == "mean_score"
    assert (bench["mean_score"], bench["n"], bench["unparseable_judgments"]) == (8.0, 1, 1)
    assert bench["score_histogram"]["8"] == 1 and bench["judge_model"] == "teacher"
    assert results["judge"] == {"backend": "scripted", "model": "teacher", "self_judged": False}
    prompt = judge.requests[0].messages_list()[0]["content"]
    assert "f(x)=(x-2)^2-1" in prompt and "My answer to:" in prompt  # reference and answer
    assert judge.requests[0].params.temperature == 0.0
    assert "1 unparseable judgments" in (tmp_path / "summary.md").read_text()
